"""Disputes over reported records (《征信业管理条例》 Art. 25).

A disputed record is flagged the moment the dispute is filed and must be
answered within 20 days: ``corrected`` (the record is changed), ``confirmed``
(the record stands and the flag goes) or ``unverifiable`` (the record is
shown with the dispute and the check's result). An answer that is late, or
a dispute still open after its due day, raises an alert once.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.bureau.records import get_record
from crossline.bureau.reporting import HISTORY_MONTHS
from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.kernels.bureau import STATUS_LEVELS
from crossline.kernels.frames import EVENT_SCHEMA
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.store.bulk import read_frame
from crossline.store.schema import bureau_disputes, bureau_records

ANSWER_DAYS = 20
OUTCOMES = ("corrected", "confirmed", "unverifiable")
DISPUTE_ANSWERED = "dispute_answered"
"""The notification telling the borrower how their dispute was answered."""


def _open_dispute(ctx: Context, credit_line_id: int, period_end: date) -> Any:
    d = bureau_disputes.c
    return ctx.conn.execute(
        sa.select(bureau_disputes).where(
            d.credit_line_id == credit_line_id,
            d.period_end == period_end,
            d.outcome.is_(None),
        )
    ).first()


def file_dispute(
    ctx: Context, borrower_id: str, product: str, period_end: date, claim: str
) -> dict[str, Any]:
    """Flag a record as disputed; the answer is due ``ANSWER_DAYS`` days later."""
    if not claim.strip():
        raise InputError("claim", "expected the borrower's claim in words")
    record = get_record(ctx, borrower_id, product, period_end)
    if _open_dispute(ctx, record.credit_line_id, period_end) is not None:
        raise RefusedError(
            "dispute_open", f"the {product} record for {period_end:%Y-%m} is already disputed"
        )
    due_on = ctx.today + timedelta(days=ANSWER_DAYS)
    dispute_id = ctx.conn.execute(
        sa.insert(bureau_disputes)
        .values(
            borrower_id=borrower_id,
            shard=record.shard,
            credit_line_id=record.credit_line_id,
            product=product,
            period_end=period_end,
            claim=claim,
            filed_on=ctx.today,
            due_on=due_on,
        )
        .returning(bureau_disputes.c.dispute_id)
    ).scalar_one()
    _emit(ctx, record, "dispute_filed", {"dispute_id": dispute_id, "due_on": due_on.isoformat()})
    return {"dispute_id": dispute_id, "due_on": due_on.isoformat()}


def resolve_dispute(
    ctx: Context,
    borrower_id: str,
    product: str,
    period_end: date,
    outcome: str,
    corrected_status: str = "N",
) -> dict[str, Any]:
    """Answer the open dispute on a record; ``corrected`` replaces its status."""
    if outcome not in OUTCOMES:
        raise InputError("outcome", f"expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if corrected_status not in STATUS_LEVELS:
        raise InputError("status", f"expected a PBOC status code, got {corrected_status!r}")
    record = get_record(ctx, borrower_id, product, period_end)
    dispute = _open_dispute(ctx, record.credit_line_id, period_end)
    if dispute is None:
        raise RefusedError(
            "no_dispute", f"the {product} record for {period_end:%Y-%m} is not disputed"
        )
    late = ctx.today > dispute.due_on
    values: dict[str, Any] = {"outcome": outcome, "resolved_on": ctx.today}
    if outcome == "corrected":
        values["previous_status"] = record.status
        _correct(ctx, record.credit_line_id, period_end, corrected_status)
    if late and dispute.alerted_on is None:
        values["alerted_on"] = ctx.today
    ctx.conn.execute(
        sa.update(bureau_disputes)
        .where(bureau_disputes.c.dispute_id == dispute.dispute_id)
        .values(**values)
    )
    payload = {"dispute_id": dispute.dispute_id, "outcome": outcome, "late": late}
    _emit(ctx, record, "dispute_resolved", payload)
    _tell_borrower(ctx, record, payload)
    if late and dispute.alerted_on is None:
        _emit(ctx, record, "dispute_alert", {"dispute_id": dispute.dispute_id, "answered": True})
    return payload


def _correct(ctx: Context, credit_line_id: int, period_end: date, status: str) -> None:
    """Set the record's status, and the month's place in the reported grid of every record
    whose 24 months include it (that record's and up to 23 later ones)."""
    r = bureau_records.c
    later = ctx.conn.execute(
        sa.select(r.period_end, r.history).where(
            r.credit_line_id == credit_line_id, r.period_end >= period_end
        )
    ).all()
    for row in later:
        position = HISTORY_MONTHS - 1 - months_between(period_end, row.period_end)
        if position < 0:
            continue
        grid = row.history[:position] + status + row.history[position + 1 :]
        values: dict[str, Any] = {"history": grid}
        if row.period_end == period_end:
            values["status"] = status
        ctx.conn.execute(
            sa.update(bureau_records)
            .where(r.credit_line_id == credit_line_id, r.period_end == row.period_end)
            .values(**values)
        )


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier``'s month to ``later``'s."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _emit(ctx: Context, record: Any, kind: str, payload: dict[str, Any]) -> None:
    payload = {"month": f"{record.period_end:%Y-%m}", **payload}
    emit(
        ctx.conn,
        [
            Event(
                record.borrower_id,
                record.shard,
                ctx.today,
                kind,
                record.product,
                record.credit_line_id,
                payload=payload,
            )
        ],
    )


def _tell_borrower(ctx: Context, record: Any, payload: dict[str, Any]) -> None:
    """The borrower hears the answer (``dispute_answered``) in the answer's transaction."""
    notice = Notice(
        borrower_id=record.borrower_id,
        shard=record.shard,
        business_date=ctx.today,
        kind=DISPUTE_ANSWERED,
        payload={"month": f"{record.period_end:%Y-%m}", **payload},
        product=record.product,
        credit_line_id=record.credit_line_id,
    )
    notify(ctx.conn, [notice])


def alert_overdue_disputes(conn: sa.Connection, day: date, lo: int, hi: int) -> pl.DataFrame:
    """At the end of ``day``, alert once on every dispute in shards [lo, hi) due by then and
    still unanswered; return the ``dispute_alert`` events."""
    d = bureau_disputes.c
    overdue = sa.and_(
        d.shard >= lo,
        d.shard < hi,
        d.outcome.is_(None),
        d.alerted_on.is_(None),
        d.due_on <= day,
    )
    found = read_frame(
        conn,
        sa.select(
            d.borrower_id, d.shard, d.product, d.credit_line_id, d.dispute_id, d.period_end
        ).where(overdue),
        pl.Schema(
            {
                "borrower_id": pl.String(),
                "shard": pl.Int16(),
                "product": pl.String(),
                "credit_line_id": pl.Int64(),
                "dispute_id": pl.Int64(),
                "period_end": pl.Date(),
            }
        ),
    )
    if found.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    conn.execute(sa.update(bureau_disputes).where(overdue).values(alerted_on=day))
    return found.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("dispute_alert").alias("type"),
        "product",
        "credit_line_id",
        pl.lit(None, pl.Int64).alias("loan_id"),
        pl.struct(
            pl.col("period_end").dt.to_string("%Y-%m").alias("month"),
            "dispute_id",
            pl.lit(False).alias("answered"),
        )
        .struct.json_encode()
        .alias("payload"),
    ).cast(EVENT_SCHEMA)
