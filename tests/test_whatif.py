"""What-if projections: the real engine on a copy, answering with dates and reasons."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

from crossline.cli import app
from crossline.scenario.runner import run_scenario, whatif
from crossline.scenario.spec import ScenarioError, parse_scenario
from crossline.servicing.context import open_context
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.purchases import purchase
from tests.conftest import initialise
from tests.helpers import dump, run_example


def _projection(outcome: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in outcome["events"] if e["type"] == "whatif")
    return found


def _lines(projection: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (c["date"], c["product"], c["status"], c["limit"])
        for c in projection["changes"]
        if c["what"] == "line"
    ]


def test_paying_huabei_40_days_late_halves_weilidai_after_the_report(engine: sa.Engine) -> None:
    outcome = run_example(engine, "whatif_huabei_40_days_late")
    projection = _projection(outcome)
    assert (projection["from"], projection["to"]) == ("2026-03-20", "2026-06-06")
    # 5000.00 paused past grace; paid 40 days late (worst status 2): half back;
    # webank sees the May report from 1 June and halves its 10000.00
    assert _lines(projection) == [
        ("2026-04-15", "huabei", "paused", "5000.00"),
        ("2026-05-21", "huabei", "active", "2500.00"),
        ("2026-06-01", "weilidai", "active", "5000.00"),
    ]
    weilidai = next(
        c for c in projection["changes"] if c.get("product") == "weilidai" and c["what"] == "line"
    )
    assert "30 days late" in weilidai["reason"]
    reported = [
        (c["date"], c["month"], c["status"])
        for c in projection["changes"]
        if c["what"] == "reported" and c["product"] == "huabei" and c["status"] != "N"
    ]
    assert reported == [("2026-06-01", "2026-05", "2")]
    webank = [c for c in projection["changes"] if c["what"] == "score" and c["group"] == "webank"]
    assert any(c["date"] == "2026-06-01" and c["to"] < c["from"] for c in webank)
    application = next(s for s in projection["steps"] if s["type"] == "apply")
    assert (application["status"], application["reasons"][0]["code"]) == (
        "referred",
        "recent_delinquency",
    )
    assert len(projection["daily"]) == 79
    # the scenario's own book did not move: still 20 March, Huabei active and unpaid
    huabei = outcome["final"]["borrowers"]["ning"]["lines"]["huabei"]
    assert (outcome["final_date"], huabei["status"], huabei["limit"]) == (
        "2026-03-20",
        "active",
        "5000.00",
    )


def test_a_projection_leaves_the_database_exactly_as_it_was(engine: sa.Engine) -> None:
    initialise(engine, date(2026, 3, 3))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "ning", 800_000)
        register_borrower(ctx, "ming", 800_000)
        open_line(ctx, "ning", "huabei", 500_000)
        purchase(ctx, "ning", "huabei", 100_000)
    before = dump(engine)
    with engine.connect() as conn:
        projection = whatif(conn, "ning", 40, [])
    assert dump(engine) == before
    # the copy ran through the March report and the April bill; the book has neither
    assert projection["daily"][-1]["date"] == "2026-04-12"
    assert {
        "date": "2026-04-01",
        "what": "reported",
        "product": "huabei",
        "month": "2026-03",
        "status": "N",
    } in projection["changes"]


@pytest.mark.parametrize(
    ("whatif_step", "message"),
    [
        ({"borrower": "nobody", "days": 10}, "whatif.borrower: unknown borrower 'nobody'"),
        ({"borrower": "ning", "days": 0}, "whatif.days"),
        (
            {
                "borrower": "ning",
                "days": 10,
                "steps": [{"date": "2026-04-01", "repay": {"product": "huabei", "amount": "all"}}],
            },
            "whatif.step 1: date: 2026-04-01 is outside 2026-03-20–2026-03-29",
        ),
        (
            {
                "borrower": "ning",
                "days": 10,
                "steps": [
                    {
                        "date": "2026-03-21",
                        "repay": {"borrower": "ming", "product": "huabei", "amount": "all"},
                    }
                ],
            },
            "whatif.step 1: borrower: a projection is for 'ning' only",
        ),
        (
            {
                "borrower": "ning",
                "days": 10,
                "steps": [
                    {"date": "2026-03-21", "repay": {"product": "mortgage", "amount": "all"}}
                ],
            },
            "repay.product",
        ),
    ],
)
def test_a_bad_projection_is_refused_naming_the_field(
    whatif_step: dict[str, Any], message: str
) -> None:
    scenario = {
        "start": "2026-03-20",
        "end": "2026-03-20",
        "borrowers": [
            {"id": "ning", "monthly_income": "8000.00"},
            {"id": "ming", "monthly_income": "1.00"},
        ],
        "steps": [{"date": "2026-03-20", "whatif": whatif_step}],
    }
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(yaml.safe_load(yaml.safe_dump(scenario)))
    assert message in str(caught.value)
    assert str(caught.value).startswith("step 1: ")


def test_a_whatif_without_steps_runs_inside_a_scenario(engine: sa.Engine) -> None:
    scenario = parse_scenario(
        {
            "start": "2026-03-20",
            "end": "2026-03-20",
            "borrowers": [{"id": "ning", "monthly_income": "8000.00"}],
            "steps": [{"date": "2026-03-20", "whatif": {"borrower": "ning", "days": 3}}],
        }
    )
    outcome = run_scenario(scenario, engine)
    projection = _projection(outcome)
    assert [d["date"] for d in projection["daily"]] == [
        "2026-03-20",
        "2026-03-21",
        "2026-03-22",
        "2026-03-23",
    ]
    assert projection["steps"] == []


def _book(engine: sa.Engine) -> None:
    initialise(engine, date(2026, 3, 20))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "ning", 800_000)
        open_line(ctx, "ning", "huabei", 500_000)


def test_the_whatif_command_prints_the_projection(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    _book(engine)
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "days: 20\nsteps:\n  - {date: 2026-03-25, purchase: {product: huabei, amount: '300.00'}}\n"
    )
    before = dump(engine)
    result = CliRunner().invoke(
        app, ["whatif", "--borrower", "ning", "--scenario", str(plan), "--database", database_url]
    )
    assert result.exit_code == 0, result.output
    projection = json.loads(result.stdout)
    assert (projection["from"], projection["to"]) == ("2026-03-20", "2026-04-09")
    purchase_step = projection["steps"][0]
    assert (purchase_step["type"], purchase_step["ok"]) == ("purchase", True)
    assert dump(engine) == before


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("days: 10\n", ["--borrower", "nobody"], "borrower: unknown borrower 'nobody'"),
        (
            "days: 0\n",
            ["--borrower", "ning"],
            "scenario.days: Input should be greater than or equal to 1",
        ),
        ("weeks: 2\n", ["--borrower", "ning"], "scenario.weeks: Extra inputs are not permitted"),
        ("borrower: ning\ndays: 3\n", ["--borrower", "ning"], "scenario: borrower: given by"),
        (
            "days: 5\nsteps:\n  - {date: 2026-04-01, repay: {product: huabei, amount: all}}\n",
            ["--borrower", "ning"],
            "date: 2026-04-01 is outside 2026-03-20–2026-03-24",
        ),
    ],
)
def test_the_whatif_command_refuses_bad_input(
    engine: sa.Engine, database_url: str, tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    _book(engine)
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    before = dump(engine)
    result = CliRunner().invoke(
        app, ["whatif", *args, "--scenario", str(plan), "--database", database_url]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert dump(engine) == before


def test_the_demo_lists_applications_and_projected_ones(tmp_path: Path) -> None:
    (tmp_path / "apply.yaml").write_text(
        """
start: 2026-03-03
end: 2026-03-03
borrowers:
  - {id: ning, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, apply: {borrower: ning, product: huabei}}
  - date: 2026-03-03
    whatif:
      borrower: ning
      days: 2
      steps:
        - {date: 2026-03-04, apply: {product: huabei}}
        - {date: 2026-03-04, apply: {product: fenqile}}
"""
    )
    result = CliRunner().invoke(app, ["examples", "--examples", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [
        [cell.strip() for cell in line.split("│")[2:6]]
        for line in result.output.splitlines()
        if line.startswith("│ apply") and "│ 2026-03-0" in line
    ]
    assert rows[0] == ["2026-03-03", "ning", "huabei", "approved 8000.00"]
    assert rows[1] == ["2026-03-04", "ning", "huabei", "what-if: refused"]
    assert rows[2][:3] == ["2026-03-04", "ning", "fenqile"]
    assert rows[2][3].startswith("what-if: approved ")
    # the projection's next morning shows the line the approval opened
    assert rows[3] == ["2026-03-05", "ning", "fenqile", "what-if: active " + rows[2][3].split()[-1]]
    assert len(rows) == 4
