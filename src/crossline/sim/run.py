"""Run a simulated population through the platform, day by day.

Each business day: the borrowers' commands (``behaviour.plan_day``) run one
by one through ``scenario.runner.execute_step`` — one transaction each, as
API calls would — and each answer goes back to the borrower who asked; then
the outbox handlers re-score what changed (production runs them after
commits, in batches), the day closes (end-of-day: accrual, ageing,
statements, reporting, scoring, account management) and the handlers run
again on what the close emitted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa
from pydantic import BaseModel

from crossline.calendar import add_months
from crossline.catalog import Catalog, catalog_to_json
from crossline.commands import KIND_OF
from crossline.eod.runner import close_day
from crossline.events.handlers import handle_pending
from crossline.kernels.bureau import NEGATIVE_STATUSES
from crossline.ledger.check import check_ledger
from crossline.scenario.runner import execute_step
from crossline.scenario.spec import Step
from crossline.servicing.context import open_context
from crossline.servicing.dues import dues
from crossline.servicing.lines import principal_in_use, register_borrower
from crossline.sim.behaviour import Holdings, People, observe, plan_applications, plan_day
from crossline.sim.traits import CALIBRATED_SHOCKS, Shocks, draw_traits
from crossline.store import platform
from crossline.store.bulk import empty_frame, read_frame
from crossline.store.checkpoints import Checkpointer
from crossline.store.engine import upgrade
from crossline.store.schema import bureau_records, credit_lines, loans

DayDone = Callable[[date, int], None]
"""Told after each closed day: the day and how many commands ran on it."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """What a run did: its size, the commands by kind and outcome, the ledger's state."""

    borrowers: int
    start: date
    end: date
    commands: dict[str, int] = field(default_factory=dict)
    """``kind`` or ``kind:refused:code`` -> how many."""
    ledger_balanced: bool = False
    journal_entries: int = 0
    shocks: Shocks = CALIBRATED_SHOCKS


def read_holdings(conn: sa.Connection, people: People) -> Holdings:
    """Each simulated borrower's lines as the lender's app shows them: status and the
    limit still available (the limit less the principal in use)."""
    c = credit_lines.c
    used = principal_in_use(loans.c.credit_line_id == c.credit_line_id).scalar_subquery()
    rows = conn.execute(sa.select(c.borrower_id, c.product, c.status, c.limit_fen - used))
    status: dict[tuple[int, str], str] = {}
    available: dict[tuple[int, str], int] = {}
    for borrower, product, line_status, left in rows:
        index = people.index_of.get(borrower)
        if index is not None:
            status[(index, product)] = line_status
            available[(index, product)] = max(0, int(left))
    return Holdings(status, available)


_REPORTED_SCHEMA = pl.Schema(
    {"borrower_id": pl.String(), "product": pl.String(), "period_end": pl.Date()}
)


def _newly_reported_late(conn: sa.Connection, day: date) -> pl.DataFrame:
    """Late records reported at yesterday's month end, which borrowers can see from today;
    none on the other days of the month, which need no read."""
    if day.day != 1:
        return empty_frame(_REPORTED_SCHEMA)
    r = bureau_records.c
    statement = (
        sa.select(r.borrower_id, r.product, r.period_end)
        .where(r.reported_on == day - timedelta(days=1), r.status.in_(NEGATIVE_STATUSES))
        .order_by(r.borrower_id, r.product)
    )
    return read_frame(conn, statement, _REPORTED_SCHEMA)


def _register(engine: sa.Engine, people: People, start: date, catalog: Catalog) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        platform.initialise(conn, business_date=start, catalog_json=catalog_to_json(catalog))
        ctx = open_context(conn)
        incomes = people.traits.get_column("monthly_income_fen").to_list()
        for borrower, income in zip(people.ids, incomes, strict=True):
            register_borrower(ctx, borrower, int(income))


def _count(counts: Counter[str], command: BaseModel, outcome: dict[str, object]) -> None:
    kind = KIND_OF[type(command)]
    counts[kind if outcome.get("ok") else f"{kind}:refused:{outcome.get('code')}"] += 1


def _run_day(
    engine: sa.Engine, people: People, day: date, seed: int, counts: Counter[str], first: int
) -> int:
    """Run one day's commands and handlers; returns the next step number."""
    with engine.connect() as conn:
        catalog = open_context(conn).catalog
        holdings = read_holdings(conn, people)
        owing = dues(conn, day)
        reported = _newly_reported_late(conn, day)
    commands = plan_day(people, day, seed, holdings, owing, catalog, reported)
    offset = (day - people.start).days
    number = first
    for command in commands:
        step = Step(number=number, date=day, kind=KIND_OF[type(command)], command=command)
        outcome = execute_step(engine, step)
        observe(people, offset, command, outcome)
        _count(counts, command, outcome)
        number += 1
    handle_pending(engine)
    return number


def simulate(
    engine: sa.Engine,
    catalog: Catalog,
    borrowers: int,
    months: int,
    seed: int,
    start: date,
    day_done: DayDone | None = None,
    shocks: Shocks = CALIBRATED_SHOCKS,
) -> Simulation:
    """Simulate ``borrowers`` for ``months`` from ``start`` on an empty database."""
    end = add_months(start, months) - timedelta(days=1)
    traits = draw_traits(borrowers, seed, shocks)
    people = People(
        ids=traits.get_column("borrower_id").to_list(),
        traits=traits,
        start=start,
        days=(end - start).days + 1,
    )
    plan_applications(people, seed)
    _register(engine, people, start, catalog)
    counts: Counter[str] = Counter()
    number = 1
    day = start
    with Checkpointer(engine):
        while day <= end:
            before = number
            number = _run_day(engine, people, day, seed, counts, number)
            close_day(engine)
            handle_pending(engine)
            if day_done is not None:
                day_done(day, number - before)
            day += timedelta(days=1)
    with engine.connect() as conn:
        ledger = check_ledger(conn)
    return Simulation(
        borrowers=borrowers,
        start=start,
        end=end,
        commands=dict(sorted(counts.items())),
        ledger_balanced=ledger.balanced,
        journal_entries=ledger.entries,
        shocks=shocks,
    )
