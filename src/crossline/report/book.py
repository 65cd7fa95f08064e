"""What the portfolio report reads: the platform's own tables as frames, read once.

The report never keeps state of its own. Every figure is derived from rows
the engine wrote while it ran — the journal, the outbox, the decisions, the
bureau records and the month-end feature snapshots — so a report on a book
can be rebuilt at any time and checked against the database it came from.
Each reader selects only the columns the measures use and decodes the JSON
payloads it needs into typed columns, so the measures are plain Polars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT
from crossline.store.bulk import read_frame
from crossline.store.schema import (
    bureau_disputes,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    decisions,
    eod_days,
    feature_snapshots,
    journal,
    notifications,
    outbox,
)

LINES_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "opened_on": pl.Date(),
        "status": pl.String(),
        "bucket": pl.String(),
        "limit_fen": pl.Int64(),
    }
)
POSTINGS_SCHEMA = pl.Schema(
    {"business_date": pl.Date(), "product": pl.String(), "amount_fen": pl.Int64()}
)
BUCKET_EVENTS_SCHEMA = pl.Schema(
    {
        "event_id": pl.Int64(),
        "business_date": pl.Date(),
        "type": pl.String(),
        "credit_line_id": pl.Int64(),
        "from_bucket": pl.String(),
        "to_bucket": pl.String(),
        "dpd": pl.Int64(),
    }
)
LIMIT_EVENTS_SCHEMA = pl.Schema(
    {
        "event_id": pl.Int64(),
        "business_date": pl.Date(),
        "credit_line_id": pl.Int64(),
        "action": pl.String(),
        "old_status": pl.String(),
        "status": pl.String(),
        "old_limit_fen": pl.Int64(),
        "limit_fen": pl.Int64(),
        "reason": pl.String(),
        "decision_id": pl.Int64(),
    }
)
DECISIONS_SCHEMA = pl.Schema(
    {
        "decision_id": pl.Int64(),
        "business_date": pl.Date(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "kind": pl.String(),
        "outcome": pl.String(),
        "reasons": pl.String(),
    }
)
RECORDS_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "period_end": pl.Date(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "opened_on": pl.Date(),
        "status": pl.String(),
        "actual_status": pl.String(),
        "dpd": pl.Int64(),
        "max_dpd": pl.Int64(),
        "balance_fen": pl.Int64(),
        "overdue_fen": pl.Int64(),
    }
)
SNAPSHOTS_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "period_end": pl.Date(),
        "score": pl.Int64(),
        "model_version": pl.String(),
    }
)
NOTIFICATIONS_SCHEMA = pl.Schema(
    {"business_date": pl.Date(), "kind": pl.String(), "count": pl.Int64()}
)
DISPUTES_SCHEMA = pl.Schema(
    {
        "dispute_id": pl.Int64(),
        "filed_on": pl.Date(),
        "outcome": pl.String(),
        "resolved_on": pl.Date(),
        "alerted_on": pl.Date(),
    }
)
INQUIRIES_SCHEMA = pl.Schema(
    {"inquired_on": pl.Date(), "reason": pl.String(), "hard": pl.Boolean(), "count": pl.Int64()}
)


@dataclass(frozen=True, slots=True)
class Book:
    """The closed days of a book and the rows the report measures."""

    first_day: date
    last_day: date
    """The first and the last closed business day; every frame holds rows dated through
    ``last_day`` only."""
    lines: pl.DataFrame
    postings: pl.DataFrame
    """Receivable postings summed per day and product: the balance moves."""
    bucket_events: pl.DataFrame
    """``bucket_changed``, ``overdue_started`` and ``cured`` events with their payload."""
    limit_events: pl.DataFrame
    decisions: pl.DataFrame
    records: pl.DataFrame
    snapshots: pl.DataFrame
    notifications: pl.DataFrame
    disputes: pl.DataFrame
    inquiries: pl.DataFrame


class EmptyBookError(ValueError):
    """The database holds no closed business day, so there is nothing to report."""


def _closed_days(conn: sa.Connection) -> tuple[date, date]:
    first, last = conn.execute(
        sa.select(sa.func.min(eod_days.c.business_date), sa.func.max(eod_days.c.business_date))
    ).one()
    if first is None:
        raise EmptyBookError("database: no business day has been closed yet; nothing to report")
    return first, last


def _lines(conn: sa.Connection) -> pl.DataFrame:
    c = credit_lines.c
    return read_frame(
        conn,
        sa.select(*(c[name] for name in LINES_SCHEMA)).order_by(c.credit_line_id),
        LINES_SCHEMA,
    )


def _postings(conn: sa.Connection) -> pl.DataFrame:
    j, c = journal.c, credit_lines.c
    receivables = [str(account) for account in RECEIVABLE_BY_COMPONENT.values()]
    statement = (
        sa.select(j.business_date, c.product, sa.func.sum(j.amount_fen))
        .join_from(journal, credit_lines, j.credit_line_id == c.credit_line_id)
        .where(j.account.in_(receivables))
        .group_by(j.business_date, c.product)
        .order_by(j.business_date, c.product)
    )
    return read_frame(conn, statement, POSTINGS_SCHEMA)


def _payloads(conn: sa.Connection, types: list[str], schema: pl.Schema) -> pl.DataFrame:
    """Outbox events of ``types`` with the payload fields ``schema`` names as columns."""
    o = outbox.c
    own = [
        name for name in ("event_id", "business_date", "type", "credit_line_id") if name in schema
    ]
    raw = pl.Schema({name: schema[name] for name in own} | {"payload": pl.String()})
    statement = (
        sa.select(*(o[name] for name in own), o.payload)
        .where(o.type.in_(types))
        .order_by(o.event_id)
    )
    fields = pl.Struct({name: dtype for name, dtype in schema.items() if name not in own})
    return (
        read_frame(conn, statement, raw)
        .with_columns(pl.col("payload").str.json_decode(fields))
        .unnest("payload")
        .select(list(schema))
    )


def _decisions(conn: sa.Connection) -> pl.DataFrame:
    d = decisions.c
    return read_frame(
        conn,
        sa.select(*(d[name] for name in DECISIONS_SCHEMA)).order_by(d.decision_id),
        DECISIONS_SCHEMA,
    )


def _records(conn: sa.Connection) -> pl.DataFrame:
    r = bureau_records.c
    return read_frame(
        conn,
        sa.select(*(r[name] for name in RECORDS_SCHEMA)).order_by(r.period_end, r.credit_line_id),
        RECORDS_SCHEMA,
    )


def _snapshots(conn: sa.Connection) -> pl.DataFrame:
    s = feature_snapshots.c
    return read_frame(
        conn,
        sa.select(*(s[name] for name in SNAPSHOTS_SCHEMA)).order_by(
            s.period_end, s.lender_group, s.borrower_id
        ),
        SNAPSHOTS_SCHEMA,
    )


def _notifications(conn: sa.Connection) -> pl.DataFrame:
    n = notifications.c
    statement = (
        sa.select(n.business_date, n.kind, sa.func.count())
        .group_by(n.business_date, n.kind)
        .order_by(n.business_date, n.kind)
    )
    return read_frame(conn, statement, NOTIFICATIONS_SCHEMA)


def _disputes(conn: sa.Connection) -> pl.DataFrame:
    d = bureau_disputes.c
    return read_frame(
        conn,
        sa.select(*(d[name] for name in DISPUTES_SCHEMA)).order_by(d.dispute_id),
        DISPUTES_SCHEMA,
    )


def _inquiries(conn: sa.Connection) -> pl.DataFrame:
    i = bureau_inquiries.c
    statement = (
        sa.select(i.inquired_on, i.reason, i.hard, sa.func.count())
        .group_by(i.inquired_on, i.reason, i.hard)
        .order_by(i.inquired_on, i.reason, i.hard)
    )
    return read_frame(conn, statement, INQUIRIES_SCHEMA)


def _through(frame: pl.DataFrame, column: str, last: date) -> pl.DataFrame:
    return frame.filter(pl.col(column) <= last)


def read_book(conn: sa.Connection) -> Book:
    """Everything the report measures, as of the end of the last closed day.

    Rows dated after it — the open day's handlers, which run after the close —
    are left out everywhere, so every measure describes the same moment.
    """
    first, last = _closed_days(conn)
    disputes = _through(_disputes(conn), "filed_on", last).with_columns(
        pl.when(pl.col(name) <= last).then(pl.col(name)).alias(name)
        for name in ("resolved_on", "alerted_on")
    )
    return Book(
        first_day=first,
        last_day=last,
        lines=_through(_lines(conn), "opened_on", last),
        postings=_through(_postings(conn), "business_date", last),
        bucket_events=_through(
            _payloads(conn, ["bucket_changed", "overdue_started", "cured"], BUCKET_EVENTS_SCHEMA),
            "business_date",
            last,
        ),
        limit_events=_through(
            _payloads(conn, ["limit_changed"], LIMIT_EVENTS_SCHEMA), "business_date", last
        ),
        decisions=_through(_decisions(conn), "business_date", last),
        records=_through(_records(conn), "period_end", last),
        snapshots=_through(_snapshots(conn), "period_end", last),
        notifications=_through(_notifications(conn), "business_date", last),
        disputes=disputes,
        inquiries=_through(_inquiries(conn), "inquired_on", last),
    )
