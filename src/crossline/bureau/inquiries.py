"""Inquiries: every pull of a credit report, with who asked and why.

Lenders pull a report to approve a loan (a hard inquiry: many in a short time,
"多头借贷", is a risk signal) or to manage one already granted; a borrower
may look at their own report, free twice a calendar year (Art. 17).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.events.outbox import Event, emit
from crossline.servicing.context import Context, require_borrower
from crossline.servicing.errors import InputError
from crossline.store.inserts import Inserts
from crossline.store.schema import bureau_inquiries

REASONS = ("loan_approval", "post_loan_management", "self_query")
HARD_REASONS = frozenset({"loan_approval"})
FREE_SELF_QUERIES_PER_YEAR = 2
SELF = "self"


def self_queries_this_year(ctx: Context, borrower_id: str) -> int:
    """Self-queries the borrower made in the business date's calendar year."""
    q = bureau_inquiries.c
    return int(
        ctx.conn.execute(
            sa.select(sa.func.count()).where(
                q.borrower_id == borrower_id,
                q.reason == "self_query",
                q.inquired_on >= date(ctx.today.year, 1, 1),
            )
        ).scalar_one()
    )


def record_inquiry(ctx: Context, borrower_id: str, inquirer: str, reason: str) -> dict[str, object]:
    """Record a report pull; a self-query beyond the free ones a year is charged."""
    if reason not in REASONS:
        raise InputError("reason", f"expected one of {', '.join(REASONS)}, got {reason!r}")
    if (reason == "self_query") != (inquirer == SELF):
        raise InputError("inquirer", "a self_query is made by the borrower and only by them")
    lenders = sorted({provider.group for provider in ctx.catalog.providers})
    if reason != "self_query" and inquirer not in lenders:
        raise InputError("inquirer", f"expected a lender group ({', '.join(lenders)})")
    require_borrower(ctx, borrower_id)
    charged = (
        reason == "self_query"
        and self_queries_this_year(ctx, borrower_id) >= FREE_SELF_QUERIES_PER_YEAR
    )
    inquiry_id = write_inquiry(ctx, borrower_id, inquirer, reason, charged)
    return {"inquiry_id": inquiry_id, "charged": charged}


_INSERT = bureau_inquiries.insert()
_INSERT_RETURNING_ID = _INSERT.returning(bureau_inquiries.c.inquiry_id)


def _inquiry(
    ctx: Context, borrower_id: str, inquirer: str, reason: str, charged: bool
) -> tuple[dict[str, Any], Event]:
    """An inquiry's row and its event."""
    row = {
        "borrower_id": borrower_id,
        "shard": ctx.shard(borrower_id),
        "inquired_on": ctx.today,
        "inquirer": inquirer,
        "reason": reason,
        "hard": reason in HARD_REASONS,
        "charged": charged,
    }
    payload = {"inquirer": inquirer, "reason": reason, "charged": charged}
    event = Event(borrower_id, ctx.shard(borrower_id), ctx.today, "inquiry", payload=payload)
    return row, event


def write_inquiry(
    ctx: Context, borrower_id: str, inquirer: str, reason: str, charged: bool = False
) -> int:
    """Write an inquiry its caller has checked, and its event; returns its id."""
    row, event = _inquiry(ctx, borrower_id, inquirer, reason, charged)
    inquiry_id = ctx.conn.execute(_INSERT_RETURNING_ID, row).scalar_one()
    emit(ctx.conn, [event])
    return int(inquiry_id)


def queue_inquiry(
    ctx: Context, borrower_id: str, inquirer: str, reason: str, event_id: int, later: Inserts
) -> None:
    """A decision's pull of the borrower it has just read: the inquiry and its event join
    the decision's inserts (``later``; the inquiry's id is not needed), the event numbered
    ``event_id``, reserved with the decision's other ids (``store.ids.allocate_many``)."""
    row, event = _inquiry(ctx, borrower_id, inquirer, reason, charged=False)
    later.add(_INSERT, [row])
    emit(ctx.conn, [event], event_id, later)
