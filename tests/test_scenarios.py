"""Scenario files: validation before anything runs, the CLI contract, and the examples."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from crossline.events.templates import LANGUAGES, render
from crossline.scenario.spec import ScenarioError, parse_scenario
from crossline.servicing.schedules import level_payment
from crossline.store.schema import notifications
from tests.helpers import EXAMPLES, dump, line_of, run_example, yuan

VALID = {
    "start": "2026-03-01",
    "end": "2026-03-31",
    "borrowers": [{"id": "bob", "monthly_income": "9000.00"}],
    "steps": [
        {
            "date": "2026-03-01",
            "open_line": {"borrower": "bob", "product": "weilidai", "limit": "30000.00"},
        },
        {
            "date": "2026-03-02",
            "draw": {
                "borrower": "bob",
                "product": "weilidai",
                "amount": "6000.00",
                "term_months": 5,
                "method": "equal_principal",
            },
        },
    ],
}


def _with_step(index: int, step: dict[str, object]) -> dict[str, object]:
    data = json.loads(json.dumps(VALID))
    data["steps"][index] = step
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with_step(
                1,
                {
                    "date": "2026-03-02",
                    "draw": {
                        "borrower": "bob",
                        "product": "nope",
                        "amount": "1.00",
                        "term_months": 5,
                        "method": "equal_principal",
                    },
                },
            ),
            "step 2: draw.product: unknown product 'nope'",
        ),
        (
            _with_step(
                1,
                {
                    "date": "2026-03-02",
                    "draw": {
                        "borrower": "bob",
                        "product": "weilidai",
                        "amount": "-5.00",
                        "term_months": 5,
                        "method": "equal_principal",
                    },
                },
            ),
            "step 2: draw.amount:",
        ),
        (
            _with_step(
                1,
                {
                    "date": "2026-02-30",
                    "repay": {"borrower": "bob", "product": "weilidai", "amount": "1.00"},
                },
            ),
            "step 2: date: expected a date",
        ),
        (
            _with_step(
                0,
                {
                    "date": "2026-03-05",
                    "open_line": {"borrower": "bob", "product": "weilidai", "limit": "1.00"},
                },
            ),
            "step 2: date: 2026-03-02 is before step 1's 2026-03-05",
        ),
        (
            _with_step(1, {"date": "2026-03-02", "teleport": {"borrower": "bob"}}),
            "step 2: teleport: unknown step kind",
        ),
        (
            _with_step(
                1,
                {
                    "date": "2026-03-02",
                    "repay": {"borrower": "eve", "product": "weilidai", "amount": "1.00"},
                },
            ),
            "step 2: repay.borrower: unknown borrower 'eve'",
        ),
        (
            _with_step(
                1,
                {
                    "date": "2026-03-02",
                    "repay": {"borrower": "bob", "product": "weilidai", "amount": 1.5},
                },
            ),
            "step 2: repay.amount:",
        ),
    ],
)
def test_invalid_files_name_the_step_and_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    assert str(caught.value).startswith(message)


def test_cli_rejects_an_invalid_file_with_exit_2_and_writes_nothing(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    bad = _with_step(
        1,
        {
            "date": "2026-03-02",
            "draw": {
                "borrower": "bob",
                "product": "weilidai",
                "amount": "0.00",
                "term_months": 5,
                "method": "equal_principal",
            },
        },
    )
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    before = dump(engine)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossline",
            "scenario",
            "run",
            str(path),
            "--database",
            database_url,
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "step 2: draw.amount: expected a positive amount" in done.stderr
    assert done.stdout == ""
    assert dump(engine) == before


def test_cli_runs_a_file_and_prints_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(VALID))
    done = subprocess.run(
        [sys.executable, "-m", "crossline", "scenario", "run", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    outcome = json.loads(done.stdout)
    assert set(outcome) >= {"final_date", "events", "snapshots", "final", "ledger"}
    assert outcome["final_date"] == "2026-03-31"
    assert outcome["ledger"]["balanced"] is True
    for event in outcome["events"]:
        assert {"date", "type", "borrower", "product"} <= set(event)
    line = line_of(outcome["final"], "bob", "weilidai")
    assert line["available"] == "24000.00"


FIVE_YEARS = "negative_record_expires_after_5_years"
"""Runs 1,910 closes; tests/test_bureau.py runs it once, on SQLite."""


EXPECTED_REFUSALS: dict[str, dict[int, str]] = {
    "collections_night_call_refused": {3: "quiet_hours"},
    "extension_beyond_legal_limit": {7: "extension_limit_art12"},
    "huabei_plan_after_overdue": {6: "line_under_plan"},
}
"""Examples that show a rule refusing a step: step number -> the refusal's code. Every
other example must run without a refusal."""


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(EXAMPLES.glob("*.yaml")) if p.stem != FIVE_YEARS],
    ids=lambda p: p.stem,
)
def test_every_example_runs_balanced(engine: sa.Engine, path: Path) -> None:
    outcome = run_example(engine, path.stem)
    assert outcome["ledger"]["balanced"]
    refused = {e["step"]: e["code"] for e in outcome["events"] if e.get("ok") is False}
    assert refused == EXPECTED_REFUSALS.get(path.stem, {})
    assert_every_notification_renders(engine)


def assert_every_notification_renders(engine: sa.Engine) -> None:
    """Whatever a command or a close wrote can be shown to the borrower in each language:
    a kind without templates, or a payload short of a field its words need, fails here
    rather than as a 500 on the borrower's notifications page."""
    n = notifications.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(n.kind, n.payload, n.product, n.business_date)).all()
    for row in rows:
        for lang in LANGUAGES:
            subject, body = render(
                row.kind, lang, json.loads(row.payload), row.product, row.business_date
            )
            assert subject and body, (row.kind, lang)


def test_fenqile_example_paid_on_time(engine: sa.Engine) -> None:
    outcome = run_example(engine, "fenqile_installment_purchase")
    repays = [e for e in outcome["events"] if e["type"] == "repay"]
    # 3000.00 / 6 = 500.00 principal and 3000 × 0.008 = 24.00 fee every month.
    assert [e["amount"] for e in repays] == ["524.00"] * 6
    line = line_of(outcome["final"], "amy", "fenqile")
    assert line["outstanding"]["principal"] == "0.00"
    assert line["loans"][0]["status"] == "paid_off"
    assert (line["dpd"], line["pboc_status"]) == (0, "N")


def test_jiebei_example_interest_only_to_payoff(engine: sa.Engine) -> None:
    outcome = run_example(engine, "jiebei_paid_early")
    r = Decimal("0.0003") * 30
    payment = Decimal(level_payment(1200000, r, 12)) / 100
    balance = Decimal(12000)
    for _ in range(2):
        interest = Decimal(yuan(balance * r))
        balance -= payment - interest
    payoff = next(e for e in outcome["events"] if e.get("step") == 5)
    # 05-01 .. 05-20 is 19 days of simple interest on what is left.
    accrued = Decimal(yuan(balance * Decimal("0.0003") * 19))
    assert payoff["amount"] == yuan(balance + accrued)
    assert payoff["allocated"]["interest"] == yuan(accrued)
    line = line_of(outcome["final"], "dan", "jiebei")
    assert line["loans"][0]["status"] == "paid_off"
    assert line["available"] == "50000.00"


def test_collections_example_refuses_the_night_call_and_keeps_the_promise(
    engine: sa.Engine,
) -> None:
    outcome = run_example(engine, "collections_night_call_refused")
    steps = {e["step"]: e for e in outcome["events"] if "step" in e}
    assert (steps[3]["ok"], steps[3]["code"]) == (False, "quiet_hours")
    assert steps[9]["ok"] is True  # 22:30, after bob's consent of 04-10
    promised = outcome["snapshots"]["promised"]["borrowers"]["bob"]["collections"]
    assert promised["contacts"] == ["2026-04-03 10:30 weilidai call debtor answered"]
    final = outcome["final"]["borrowers"]["bob"]["collections"]
    assert final["promises"] == [
        {"product": "weilidai", "amount": "1000.00", "by": "2026-04-06", "status": "kept"}
    ]
    assert final["contacts"][1] == "2026-04-10 22:30 weilidai call debtor unanswered"
