"""The month-end report: one record per account per month (DOMAIN.md §3).

At the end of the last day of a month every provider reports every account
open during it: the status as of that day, balance, limit and overdue amount.
Two rules decide what status goes out. Below the provider's threshold a late
account is reported current (N). A negative status goes out only if the
Art. 15 notice for this delinquency was sent at least ``notice_lead_days``
before the reporting date; otherwise it waits for the next cycle and the
month is reported N, with the true status kept beside it for audit.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.bureau.notices import last_notices
from crossline.bureau.settings import reporting_settings
from crossline.catalog import Catalog
from crossline.kernels.bureau import NEGATIVE_STATUSES, STATUS_LEVELS, status_level
from crossline.kernels.delinquency import pboc_status
from crossline.kernels.frames import EVENT_SCHEMA
from crossline.servicing.balances import line_balances
from crossline.store.bulk import insert_frame, read_frame
from crossline.store.schema import bureau_records, credit_lines

_LINE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "opened_on": pl.Date(),
        "status": pl.String(),
        "limit_fen": pl.Int64(),
        "dpd": pl.Int32(),
        "month_max_dpd": pl.Int32(),
        "pboc_status": pl.String(),
        "written_off_on": pl.Date(),
    }
)

PREVIOUS_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "previous_status": pl.String(),
        "previous_history": pl.String(),
        "previous_actual_history": pl.String(),
    }
)

HISTORY_MONTHS = 24
NOT_REPORTED = "-"

_DELINQUENT = tuple(code for code, level in STATUS_LEVELS.items() if 1 <= level <= 7)
"""Statuses 1–7: a delinquency that can end (B ends only by settlement)."""


def is_month_end(day: date) -> bool:
    """Whether the end of ``day`` is a reporting date."""
    return (day + timedelta(days=1)).day == 1


def _lines(conn: sa.Connection, period_end: date, lo: int, hi: int) -> pl.DataFrame:
    c = credit_lines.c
    return read_frame(
        conn,
        sa.select(*(c[name] for name in _LINE_SCHEMA)).where(
            c.shard >= lo, c.shard < hi, c.opened_on <= period_end
        ),
        _LINE_SCHEMA,
    )


def _previous(conn: sa.Connection, period_end: date, lo: int, hi: int) -> pl.DataFrame:
    """Each line's record of the previous month end: its status and grids."""
    previous_end = period_end.replace(day=1) - timedelta(days=1)
    r = bureau_records.c
    return read_frame(
        conn,
        sa.select(r.credit_line_id, r.status, r.history, r.actual_history).where(
            r.shard >= lo, r.shard < hi, r.period_end == previous_end
        ),
        PREVIOUS_SCHEMA,
    )


def month_records(
    lines: pl.DataFrame,
    settings: pl.DataFrame,
    balances: pl.DataFrame,
    notices: pl.DataFrame,
    previous: pl.DataFrame,
    period_end: date,
) -> pl.DataFrame:
    """The records to report for ``lines`` at ``period_end`` (a pure function of its inputs).

    Each record carries its account's 24-month grid ending with this month,
    oldest first (``-`` where nothing was reported), as reported and as it
    actually was: the previous month's grid shifted by one.

    A month's status is that of the worst DPD the line reached in the month,
    so a 45-day overdue cured on the 25th is reported for that month, and one
    of 10 days is not (below the threshold). The notice counts if it was sent
    during a delinquency that reached into this month (on or after the month's
    first day less the worst DPD; for bad debt, any notice) and at least the
    lead time before today.
    """
    end = pl.lit(period_end, pl.Date)
    earliest_notice = pl.lit(period_end.replace(day=1), pl.Date) - pl.duration(
        days=pl.col("month_max_dpd")
    )
    # Settled is C even after a write-off: the B months stay in the grid (issue 7).
    actual = (
        pl.when(pl.col("status") == "closed")
        .then(pl.lit("C"))
        .when(pl.col("written_off_on").is_not_null())
        .then(pl.lit("B"))
        .otherwise(pboc_status(pl.col("month_max_dpd")))
    )
    noticed_in_time = (
        pl.col("noticed_on").is_not_null()
        & ((pl.col("noticed_on") >= earliest_notice) | pl.col("written_off_on").is_not_null())
        & (pl.col("noticed_on") <= end - pl.duration(days=pl.col("notice_lead_days")))
    )
    reportable = (pl.col("month_max_dpd") >= pl.col("report_min_dpd")) & noticed_in_time
    negative = status_level(pl.col("actual_status")) > 0
    return (
        lines.join(settings, on="product")
        .join(balances, on="credit_line_id", how="left")
        .join(notices, on="credit_line_id", how="left")
        .join(previous, on="credit_line_id", how="left")
        .with_columns(
            actual.alias("actual_status"),
            pl.col("balance_fen").fill_null(0),
            pl.col("overdue_fen").fill_null(0),
        )
        .with_columns(
            pl.when(negative & ~reportable)
            .then(pl.lit("N"))
            .otherwise(pl.col("actual_status"))
            .alias("reported_status"),
        )
        .select(
            "credit_line_id",
            end.alias("period_end"),
            "borrower_id",
            "shard",
            "provider",
            "lender_group",
            "product",
            "opened_on",
            pl.col("reported_status").alias("status"),
            "actual_status",
            "dpd",
            pl.col("month_max_dpd").alias("max_dpd"),
            "balance_fen",
            "limit_fen",
            pl.when(pl.col("reported_status") == "N")
            .then(pl.lit(0, pl.Int64))
            .otherwise(pl.col("overdue_fen"))
            .alias("overdue_fen"),
            end.alias("reported_on"),
            pl.lit(None, pl.Date).alias("delinquency_ended_on"),
            _grid("previous_history", "reported_status").alias("history"),
            _grid("previous_actual_history", "actual_status").alias("actual_history"),
        )
    )


def _grid(previous: str, status: str) -> pl.Expr:
    """Last month's grid without its oldest month, then this month's status."""
    before = pl.col(previous).fill_null(NOT_REPORTED * HISTORY_MONTHS)
    return pl.concat_str([before.str.slice(1), pl.col(status)])


def _reported_events(records: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """A ``reported`` event for every negative record and every status that changed."""
    last = previous.select("credit_line_id", "previous_status")
    changed = records.join(last, on="credit_line_id", how="left").filter(
        (status_level(pl.col("status")) > 0)
        | (pl.col("status") != pl.col("previous_status")).fill_null(True)
    )
    return changed.select(
        "borrower_id",
        "shard",
        pl.col("period_end").alias("business_date"),
        pl.lit("reported").alias("type"),
        "product",
        "credit_line_id",
        pl.lit(None, pl.Int64).alias("loan_id"),
        pl.struct(
            pl.col("period_end").dt.to_string("%Y-%m-%d"),
            "status",
            "actual_status",
            "balance_fen",
            "overdue_fen",
        )
        .struct.json_encode()
        .alias("payload"),
    ).cast(EVENT_SCHEMA)


def _end_delinquencies(conn: sa.Connection, period_end: date, lo: int, hi: int) -> None:
    """Start the 5-year retention clock of negative records on lines current again, and
    of every negative record (bad debt too) of a line settled and closed."""
    r = bureau_records.c
    c = credit_lines.c
    cured = (
        sa.select(sa.func.coalesce(c.cured_on, period_end))
        .where(c.credit_line_id == r.credit_line_id)
        .scalar_subquery()
    )
    current_lines = sa.select(c.credit_line_id).where(
        c.shard >= lo, c.shard < hi, c.dpd == 0, c.written_off_on.is_(None)
    )
    settled_lines = sa.select(c.credit_line_id).where(
        c.shard >= lo, c.shard < hi, c.status == "closed"
    )
    conn.execute(
        sa.update(bureau_records)
        .where(
            r.shard >= lo,
            r.shard < hi,
            r.delinquency_ended_on.is_(None),
            sa.or_(
                sa.and_(r.status.in_(_DELINQUENT), r.credit_line_id.in_(current_lines)),
                sa.and_(r.status.in_(NEGATIVE_STATUSES), r.credit_line_id.in_(settled_lines)),
            ),
        )
        .values(delinquency_ended_on=cured)
    )


def report_month(
    conn: sa.Connection, catalog: Catalog, period_end: date, lo: int, hi: int
) -> pl.DataFrame:
    """Report every account of shards [lo, hi) at ``period_end``; return the ``reported`` events.

    Also ends the delinquencies of lines that are current again and restarts
    each line's worst-DPD-of-the-month from its DPD today (0 inside a grace
    period, which is not late).
    """
    lines = _lines(conn, period_end, lo, hi)
    if lines.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    c = credit_lines.c
    in_range = sa.and_(c.shard >= lo, c.shard < hi)
    previous = _previous(conn, period_end, lo, hi)
    records = month_records(
        lines,
        reporting_settings(catalog),
        line_balances(conn, in_range, period_end + timedelta(days=1)),
        last_notices(conn, in_range),
        previous,
        period_end,
    )
    insert_frame(conn, bureau_records, records)
    _end_delinquencies(conn, period_end, lo, hi)
    counted_today = sa.case((c.pboc_status == "N", sa.literal_column("0")), else_=c.dpd)
    conn.execute(
        sa.update(credit_lines)
        .where(in_range, c.month_max_dpd != counted_today)
        .values(month_max_dpd=counted_today)
    )
    return _reported_events(records, previous)
