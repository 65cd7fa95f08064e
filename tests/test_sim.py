"""The simulator: deterministic for a seed, only through services, behaviour as specified."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa
from typer.testing import CliRunner

from crossline.catalog import load_catalog
from crossline.cli import app
from crossline.scenario.spec import (
    ConvertStatement,
    Dispute,
    Draw,
    Purchase,
    Repay,
    ResolveDispute,
    SelfQuery,
)
from crossline.servicing.context import open_context
from crossline.servicing.dues import DUES_SCHEMA
from crossline.servicing.lines import available_fen, get_line
from crossline.sim.behaviour import Holdings, People, observe, payments, plan_day
from crossline.sim.run import read_holdings, simulate
from crossline.sim.traits import CALIBRATED_SHOCKS, STRESSED_SHOCKS, borrower_ids, draw_traits
from crossline.store.engine import make_engine
from crossline.store.schema import credit_lines, decisions
from tests.helpers import dump, journal_rows

START = date(2026, 1, 15)


def _decisions(engine: sa.Engine) -> list[tuple[object, ...]]:
    d = decisions.c
    with engine.connect() as conn:
        statement = sa.select(
            d.decision_id, d.borrower_id, d.kind, d.outcome, d.business_date
        ).order_by(d.decision_id)
        return [tuple(row) for row in conn.execute(statement)]


def test_a_seed_gives_the_same_book_on_every_backend(engine: sa.Engine, tmp_path: Path) -> None:
    catalog = load_catalog("default")
    first = simulate(engine, catalog, 10, 1, seed=5, start=START)
    other = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    second = simulate(other, catalog, 10, 1, seed=5, start=START)
    assert first.ledger_balanced and second.ledger_balanced
    assert first == second
    assert journal_rows(engine) == journal_rows(other)
    assert _decisions(engine) == _decisions(other)
    assert dump(engine) == dump(other), "every table, ids included"
    # A month from mid-January holds applications, purchases and the first Huabei bills'
    # due date (the 10th), so every kind of daily life ran through the engine.
    for kind in ("apply", "purchase", "repay"):
        assert first.commands.get(kind, 0) > 0, kind
    other.dispose()


def _people(**traits: object) -> People:
    frame = draw_traits(1, seed=1).with_columns(
        **{
            name: pl.lit(value).cast(draw_traits(1, 1).schema[name])
            for name, value in traits.items()
        }
    )
    return People(ids=["sim-000000"], traits=frame, start=START, days=30)


def _due(product: str, due: int, minimum: int, first_due: date = START) -> pl.DataFrame:
    row = {
        "borrower_id": "sim-000000",
        "product": product,
        "credit_line_id": 1,
        "first_due": first_due,
        "due_fen": due,
        "minimum_fen": minimum,
    }
    return pl.DataFrame([row], schema=DUES_SCHEMA)


def _pay(people: People, dues: pl.DataFrame) -> list[object]:
    return [command for _, command in payments(people, 0, dues, np.random.default_rng(0))]


def test_payments_follow_cash_willingness_and_shocks() -> None:
    sure = {"willingness": 1.0, "revolver": False}
    people = _people(**sure)
    people.cash_fen[0] = 10_000
    assert _pay(people, _due("jiebei", 8_000, 8_000)) == [
        Repay(borrower="sim-000000", product="jiebei", amount="all_due")
    ]
    assert people.cash_fen[0] == 2_000
    # Short of cash, a cash loan gets what there is; nothing left, nothing is paid.
    assert _pay(people, _due("jiebei", 8_000, 8_000)) == [
        Repay(borrower="sim-000000", product="jiebei", amount="20.00")
    ]
    assert _pay(people, _due("jiebei", 8_000, 8_000)) == []
    # A revolver pays the minimum though cash would cover the bill.
    revolver = _people(willingness=1.0, revolver=True)
    revolver.cash_fen[0] = 100_000
    assert _pay(revolver, _due("huabei", 50_000, 5_000)) == [
        Repay(borrower="sim-000000", product="huabei", amount="50.00")
    ]
    # In a shock, the cash held still pays cash loans; shopping bills slide.
    shocked = _people(**sure)
    shocked.cash_fen[0] = 100_000
    shocked.shock_until[0] = 3
    assert _pay(shocked, _due("huabei", 8_000, 800)) == []
    assert _pay(shocked, _due("fenqile", 8_000, 8_000)) == []
    for product in ("jiebei", "weilidai"):
        assert _pay(shocked, _due(product, 8_000, 8_000)) == [
            Repay(borrower="sim-000000", product=product, amount="all_due")
        ]
    assert shocked.cash_fen[0] == 100_000 - 2 * 8_000
    # Unwilling, nobody pays.
    unwilling = _people(willingness=0.0, revolver=False)
    unwilling.cash_fen[0] = 100_000
    assert _pay(unwilling, _due("jiebei", 8_000, 8_000)) == []


def test_a_short_huabei_payer_converts_or_pays_what_cash_allows() -> None:
    people = _people(willingness=1.0, revolver=False)
    outcomes = set()
    for seed in range(40):
        people.cash_fen[0] = 3_000
        commands = [
            c
            for _, c in payments(
                people, 0, _due("huabei", 50_000, 5_000), np.random.default_rng(seed)
            )
        ]
        outcomes.add(type(commands[0]).__name__)
        if isinstance(commands[0], ConvertStatement):
            assert people.cash_fen[0] == 3_000
        else:
            assert commands[0] == Repay(borrower="sim-000000", product="huabei", amount="30.00")
            observe(people, 0, commands[0], {"ok": False, "code": "refused"})
            assert people.cash_fen[0] == 3_000  # a refused payment leaves the cash
    assert outcomes == {"ConvertStatement", "Repay"}
    # Once the bill's due date has passed it can no longer be converted: cash pays.
    overdue = _due("huabei", 50_000, 5_000, first_due=date(2026, 1, 10))
    for seed in range(40):
        people.cash_fen[0] = 3_000
        commands = [c for _, c in payments(people, 0, overdue, np.random.default_rng(seed))]
        assert commands == [Repay(borrower="sim-000000", product="huabei", amount="30.00")]


def test_holdings_tell_active_from_held() -> None:
    holdings = Holdings({(0, "huabei"): "active", (0, "jiebei"): "frozen"})
    assert holdings.active(0, "huabei") and not holdings.active(0, "jiebei")
    assert holdings.holds(0, "jiebei") and not holdings.holds(0, "fenqile")


def test_borrowers_see_each_line_s_available_limit_as_servicing_computes_it(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}")
    simulate(engine, load_catalog("default"), 8, 1, seed=5, start=START)
    people = People(ids=borrower_ids(8), traits=draw_traits(8, 5), start=START, days=31)
    with engine.connect() as conn:
        holdings = read_holdings(conn, people)
        ctx = open_context(conn)
        lines = conn.execute(sa.select(credit_lines.c.borrower_id, credit_lines.c.product))
        seen = {}
        for borrower, product in lines:
            line = get_line(ctx, borrower, product)
            key = (people.index_of[borrower], product)
            assert holdings.available_fen[key] == available_fen(ctx, line), key
            seen[key] = (holdings.available_fen[key], line.limit_fen)
    assert seen.keys() == holdings.status.keys()
    assert any(0 < left < limit for left, limit in seen.values()), "no line partly used"
    engine.dispose()


def test_borrowers_spend_only_what_their_lines_have_available() -> None:
    count = 300
    people = People(
        ids=borrower_ids(count), traits=draw_traits(count, seed=4), start=START, days=90
    )
    catalog = load_catalog("default")
    nothing_due = pl.DataFrame(schema=DUES_SCHEMA)
    no_reports = pl.DataFrame(
        schema={"borrower_id": pl.String, "product": pl.String, "period_end": pl.Date}
    )
    # Available fen by borrower index modulo 3: nothing, a yuan and a half, 200 yuan.
    left = {0: 0, 1: 150, 2: 20_000}
    status, available = {}, {}
    for index in range(count):
        for product in ("huabei", "fenqile", "jiebei", "weilidai"):
            status[(index, product)] = "active"
            available[(index, product)] = left[index % 3]
    holdings = Holdings(status, available)
    planned = [
        command
        for offset in range(60)
        for command in plan_day(
            people, START + timedelta(days=offset), 3, holdings, nothing_due, catalog, no_reports
        )
        if isinstance(command, Purchase | Draw)
    ]
    spent = [(people.index_of[c.borrower], c.amount) for c in planned]
    assert any(index % 3 == 2 for index, _ in spent), "nobody with room spent"
    assert all(0 < amount <= left[index % 3] for index, amount in spent), "beyond the room"
    draws = [c.amount for c in planned if isinstance(c, Draw)]
    assert draws and all(amount % 100 == 0 for amount in draws), "whole yuan"
    assert 20_000 in draws, "a need above the available limit borrows all of it"


def test_a_stressed_population_draws_more_and_longer_shocks() -> None:
    calm = draw_traits(2_000, seed=2)
    stressed = draw_traits(2_000, seed=2, shocks=STRESSED_SHOCKS)
    for traits, shocks in ((calm, CALIBRATED_SHOCKS), (stressed, STRESSED_SHOCKS)):
        for column, (low, high) in (
            ("shock_rate", shocks.monthly_rate),
            ("shock_days", shocks.mean_days),
        ):
            values = traits.get_column(column)
            assert low <= values.min() and values.max() <= high  # type: ignore[operator]
            assert abs(values.mean() - (low + high) / 2) < 0.05 * (high - low)  # type: ignore[operator]
    assert calm.drop("shock_rate", "shock_days").equals(
        stressed.drop("shock_rate", "shock_days")
    ), "only the shocks differ"


def test_simulate_command_writes_its_summary_and_refuses_a_used_database(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    args = ["simulate", "--borrowers", "3", "--months", "1", "--start", "2026-02-01", "--stressed"]
    done = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--database", database_url])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "simulation.json").read_text(encoding="utf-8"))
    assert summary["ledger_balanced"] is True
    assert summary["shocks"] == {"monthly_rate": [0.01, 0.05], "mean_days": [30, 120]}
    assert (summary["borrowers"], summary["start"], summary["end"]) == (
        3,
        "2026-02-01",
        "2026-02-28",
    )
    before = dump(engine)
    again = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--database", database_url])
    assert again.exit_code == 2
    assert "already holds a book" in again.output
    assert dump(engine) == before


def test_cash_set_aside_is_settled_at_what_the_platform_took() -> None:
    people = _people(willingness=1.0, revolver=False)
    people.cash_fen[0] = 10_000
    (command,) = _pay(people, _due("jiebei", 8_000, 8_000))
    assert command == Repay(borrower="sim-000000", product="jiebei", amount="all_due")
    # The schedule said 80.00; the platform took 79.40 (a penalty reversed in grace).
    observe(people, 0, command, {"ok": True, "amount": "79.40"})
    assert people.cash_fen[0] == 10_000 - 7_940


def test_borrowers_reported_late_check_their_report_and_some_dispute_it() -> None:
    count = 400
    people = People(
        ids=[f"sim-{i:06d}" for i in range(count)],
        traits=draw_traits(count, seed=5),
        start=START,
        days=60,
    )
    period_end = date(2026, 1, 31)
    reported = pl.DataFrame(
        {
            "borrower_id": people.ids,
            "product": ["huabei"] * count,
            "period_end": [period_end] * count,
        }
    )
    catalog = load_catalog("default")
    nothing_due = pl.DataFrame(schema=DUES_SCHEMA)
    day = date(2026, 2, 1)
    offset = (day - START).days
    planned = plan_day(people, day, 3, Holdings({}), nothing_due, catalog, reported)

    queried = {c.borrower for c in planned if isinstance(c, SelfQuery)}
    disputes = [c for c in planned if isinstance(c, Dispute)]
    assert 0.4 * count < len(queried) < 0.6 * count
    assert 0 < len(disputes) < 0.4 * len(queried)
    assert {d.borrower for d in disputes} <= queried
    assert all(d.month == period_end and d.product == "huabei" for d in disputes)
    answer_days = sorted(people.answers.values())
    assert len(answer_days) == len(disputes)
    assert offset + 3 <= answer_days[0] and answer_days[-1] <= offset + 23

    refused = disputes[0]
    observe(people, offset, refused, {"ok": False, "code": "no_such_record"})
    assert (people.index_of[refused.borrower], "huabei", period_end) not in people.answers

    (index, product, month), answer_day = min(people.answers.items(), key=lambda item: item[1])
    later = START + timedelta(days=answer_day)
    answers = [
        c
        for c in plan_day(people, later, 3, Holdings({}), nothing_due, catalog, reported.clear())
        if isinstance(c, ResolveDispute)
    ]
    assert any(
        a.borrower == people.ids[index] and a.month == month and a.outcome == "confirmed"
        for a in answers
    )
    assert (index, product, month) not in people.answers
