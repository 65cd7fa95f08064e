"""Run a validated scenario through the real services and end-of-day.

Steps dated T run during business day T, each as one command in its own
transaction, before T's end-of-day. A refused step writes nothing and is
reported with ``ok: false`` and its reason; the run goes on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from crossline.calendar import date_range
from crossline.catalog import catalog_from_json, catalog_to_json
from crossline.commands import run_command
from crossline.eod.runner import Progress, close_day
from crossline.events.handlers import handle_pending
from crossline.events.outbox import read_events
from crossline.ledger.check import check_ledger
from crossline.scenario.spec import (
    Repay,
    Scenario,
    ScenarioError,
    Step,
    WhatIf,
    whatif_shell,
    whatif_steps,
)
from crossline.scenario.state import snapshot
from crossline.scenario.whatif import project
from crossline.servicing.context import open_context
from crossline.servicing.errors import ServicingError
from crossline.servicing.lines import register_borrower
from crossline.store import platform
from crossline.store.engine import upgrade
from crossline.store.schema import borrowers, outbox


def execute_step(engine: sa.Engine, step: Step) -> dict[str, Any]:
    """Run one command in its own transaction, as the API would; a refusal is reported
    (``ok: false``, its code and reason) and writes nothing."""
    command = step.command
    assert command is not None
    event: dict[str, Any] = {
        "date": step.date.isoformat(),
        "type": step.kind,
        "step": step.number,
        "borrower": getattr(command, "borrower", None),
        "product": getattr(command, "product", None),
    }
    try:
        with engine.begin() as conn:
            ctx = open_context(conn)
            key = None
            if isinstance(command, Repay):
                key = command.key or f"scenario-step-{step.number}"
            detail, replayed = run_command(ctx, command, key)
            if replayed:
                event["replayed"] = True
        event.update({"ok": True} | {k: v for k, v in detail.items() if v is not None})
    except ServicingError as exc:
        event.update(ok=False, code=exc.code, reason=exc.message)
    return event


def _outbox_events(conn: sa.Connection, since: int) -> tuple[list[dict[str, Any]], int]:
    events = []
    last = since
    for row in read_events(conn, since):
        last = int(row.pop("event_id"))
        row["date"] = row.pop("business_date").isoformat()
        row["borrower"] = row.pop("borrower_id")
        events.append({k: v for k, v in row.items() if v is not None})
    return events, last


def _handle_events(engine: sa.Engine, seen: int) -> tuple[list[dict[str, Any]], int]:
    """Run the outbox handlers (re-scoring) as production does after a commit; return the
    events written since ``seen``."""
    handle_pending(engine)
    with engine.connect() as conn:
        return _outbox_events(conn, seen)


def run_days(
    engine: sa.Engine,
    first: date,
    last: date,
    steps: list[Step],
    progress: Progress | None = None,
    after_close: Callable[[date], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run business days ``first``…``last``: each day's steps, the outbox handlers after
    each, the close and the handlers again; return the events and the named snapshots.
    ``after_close(day)`` sees the book once ``day`` is closed."""
    steps_by_day: dict[date, list[Step]] = defaultdict(list)
    for step in steps:
        steps_by_day[step.date].append(step)
    with engine.connect() as conn:
        seen = int(
            conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(outbox.c.event_id), 0))
            ).scalar_one()
        )
    events: list[dict[str, Any]] = []
    snapshots: dict[str, Any] = {}
    for day in date_range(first, last):
        for step in steps_by_day[day]:
            if step.snapshot is not None:
                with engine.connect() as conn:
                    snapshots[step.snapshot] = snapshot(conn, day)
                continue
            if isinstance(step.command, WhatIf):
                events.append(_whatif(engine, step, step.command))
                continue
            events.append(execute_step(engine, step))
            emitted, seen = _handle_events(engine, seen)
            events.extend(emitted)
        close_day(engine, progress)
        emitted, seen = _handle_events(engine, seen)
        events.extend(emitted)
        if after_close is not None:
            after_close(day)
    return events, snapshots


def whatif(conn: sa.Connection, borrower_id: str, days: int, steps: list[Step]) -> dict[str, Any]:
    """Project a borrower's next ``days`` under hypothetical ``steps``, on a copy of the book."""
    return project(conn, borrower_id, days, steps, run_days)


def whatif_request(conn: sa.Connection, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A projection asked for as data — a what-if file or an API body: ``borrower``,
    ``days`` and ``steps`` from today — checked against the book (a known borrower, the
    catalog's products, steps inside the window), then run. A ``ScenarioError`` names
    ``where.field``."""
    shell = whatif_shell(dict(raw), where)
    first = platform.business_date(conn)
    known = conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == shell.borrower)
    ).first()
    if known is None:
        raise ScenarioError(f"{where}.borrower: unknown borrower {shell.borrower!r}")
    last = first + timedelta(days=shell.days - 1)
    context = {
        "catalog": catalog_from_json(platform.catalog_json(conn)),
        "borrower_ids": {shell.borrower},
    }
    steps = whatif_steps(raw.get("steps", []), shell.borrower, first, last, context, where)
    return whatif(conn, shell.borrower, shell.days, list(steps))


def _whatif(engine: sa.Engine, step: Step, command: WhatIf) -> dict[str, Any]:
    with engine.connect() as conn:
        projection = whatif(conn, command.borrower, command.days, list(command.steps))
    return {"date": step.date.isoformat(), "type": "whatif", "step": step.number} | projection


def run_scenario(
    scenario: Scenario, engine: sa.Engine, progress: Progress | None = None
) -> dict[str, Any]:
    """Run the scenario on a fresh database and return the JSON-ready outcome."""
    upgrade(engine)
    with engine.begin() as conn:
        platform.initialise(
            conn,
            business_date=scenario.start,
            catalog_json=catalog_to_json(scenario.catalog),
            partitions=1,
        )
        ctx = open_context(conn)
        for borrower in scenario.borrowers:
            register_borrower(ctx, borrower.id, borrower.monthly_income)
    events, snapshots = run_days(engine, scenario.start, scenario.end, scenario.steps, progress)
    with engine.connect() as conn:
        final = snapshot(conn, scenario.end)
        ledger = check_ledger(conn)
    return {
        "final_date": scenario.end.isoformat(),
        "events": events,
        "snapshots": snapshots,
        "final": final,
        "ledger": {
            "balanced": ledger.balanced,
            "entries": ledger.entries,
            "mismatches": len(ledger.mismatches),
        },
    }
