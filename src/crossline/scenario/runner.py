"""Run a validated scenario through the real services and end-of-day.

Steps dated T run during business day T, each as one command in its own
transaction, before T's end-of-day. A refused step writes nothing and is
reported with ``ok: false`` and its reason; the run goes on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from crossline.bureau.disputes import file_dispute, resolve_dispute
from crossline.bureau.explanations import add_explanation
from crossline.bureau.inquiries import SELF, record_inquiry
from crossline.calendar import date_range
from crossline.catalog import catalog_to_json
from crossline.decisions import applications
from crossline.decisions.authorisation import Authorisation, authorised_draw, authorised_purchase
from crossline.eod.runner import Progress, close_day
from crossline.events.handlers import dispatch
from crossline.events.outbox import read_events
from crossline.ledger.check import check_ledger
from crossline.money import format_fen
from crossline.scenario.spec import (
    Apply,
    ConvertStatement,
    Dispute,
    Draw,
    OpenLine,
    Purchase,
    Repay,
    ResolveDispute,
    Scenario,
    SelfQuery,
    Statement,
    Step,
    SubmitDocument,
    VerifyDocument,
    WhatIf,
)
from crossline.scenario.state import snapshot
from crossline.scenario.whatif import project
from crossline.servicing.context import Context, open_context
from crossline.servicing.errors import ServicingError
from crossline.servicing.idempotency import run_once
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.repayment import repay
from crossline.servicing.revolving import convert_statement
from crossline.store import platform
from crossline.store.engine import upgrade
from crossline.store.schema import loans, outbox


def _open_line(ctx: Context, c: OpenLine) -> dict[str, Any]:
    line_id = open_line(ctx, c.borrower, c.product, c.limit, c.daily_rate, c.monthly_fee_rate)
    return {"credit_line_id": line_id, "limit": format_fen(c.limit)}


def _loan_result(ctx: Context, loan_id: int) -> dict[str, Any]:
    apr = ctx.conn.execute(sa.select(loans.c.apr).where(loans.c.loan_id == loan_id)).scalar_one()
    return {"loan_id": loan_id, "apr": apr}


def _authorised(authorisation: Authorisation, ctx: Context, loan_id: int | None) -> dict[str, Any]:
    """A booked loan, or a refusal: not ok, but the refused decision is kept."""
    if loan_id is None:
        refusal = {"ok": False, "code": authorisation.code, "reason": authorisation.reasons[0].text}
        return {"authorisation": authorisation.decision_id} | refusal
    return _loan_result(ctx, loan_id) | {"authorisation": authorisation.decision_id}


def _draw(ctx: Context, c: Draw) -> dict[str, Any]:
    authorisation, loan_id = authorised_draw(
        ctx, c.borrower, c.product, c.amount, c.term_months, c.method
    )
    return _authorised(authorisation, ctx, loan_id)


def _purchase(ctx: Context, c: Purchase) -> dict[str, Any]:
    authorisation, loan_id = authorised_purchase(
        ctx, c.borrower, c.product, c.amount, c.installments, c.monthly_fee_rate, c.merchant
    )
    return _authorised(authorisation, ctx, loan_id)


def _convert(ctx: Context, c: ConvertStatement) -> dict[str, Any]:
    return _loan_result(ctx, convert_statement(ctx, c.borrower, c.product, c.months))


def _repay(ctx: Context, c: Repay, step: Step) -> tuple[dict[str, Any], bool]:
    request = {"borrower": c.borrower, "product": c.product, "amount": c.amount}
    key = c.key or f"scenario-step-{step.number}"
    return run_once(
        ctx,
        key,
        c.borrower,
        "repay",
        request,
        lambda: repay(ctx, c.borrower, c.product, c.amount).as_dict(),
    )


def _self_query(ctx: Context, c: SelfQuery) -> dict[str, Any]:
    return record_inquiry(ctx, c.borrower, SELF, "self_query")


def _dispute(ctx: Context, c: Dispute) -> dict[str, Any]:
    return file_dispute(ctx, c.borrower, c.product, c.month, c.claim)


def _resolve(ctx: Context, c: ResolveDispute) -> dict[str, Any]:
    return resolve_dispute(ctx, c.borrower, c.product, c.month, c.outcome, c.status)


def _statement(ctx: Context, c: Statement) -> dict[str, Any]:
    return add_explanation(ctx, c.borrower, c.product, c.month, c.text)


def _apply(ctx: Context, c: Apply) -> dict[str, Any]:
    return applications.apply(ctx, c.borrower, c.product, c.requested_limit).as_dict()


def _submit(ctx: Context, c: SubmitDocument) -> dict[str, Any]:
    application = applications.referred_application(ctx, c.borrower, c.product)
    return applications.submit_document(ctx, application, c.kind, c.monthly_income).as_dict()


def _verify(ctx: Context, c: VerifyDocument) -> dict[str, Any]:
    application = applications.referred_application(ctx, c.borrower, c.product)
    document = applications.submitted_document(ctx, application, c.kind)
    return applications.verify_document(ctx, document, c.verified, c.note).as_dict()


_HANDLERS: dict[type[BaseModel], Callable[[Context, Any], dict[str, Any]]] = {
    OpenLine: _open_line,
    Draw: _draw,
    Purchase: _purchase,
    ConvertStatement: _convert,
    SelfQuery: _self_query,
    Dispute: _dispute,
    ResolveDispute: _resolve,
    Statement: _statement,
    Apply: _apply,
    SubmitDocument: _submit,
    VerifyDocument: _verify,
}


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
            if isinstance(command, Repay):
                detail, replayed = _repay(ctx, command, step)
                if replayed:
                    event["replayed"] = True
            else:
                detail = _HANDLERS[type(command)](ctx, command)
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
    with engine.begin() as conn:
        ctx = open_context(conn)
        dispatch(conn, ctx.catalog, ctx.today)
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
