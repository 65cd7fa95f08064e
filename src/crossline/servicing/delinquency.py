"""Line-level delinquency: from loan ageing to bucket, class, PBOC status and events.

A credit line is as late as its latest loan. The same function serves a
repayment (one borrower, right after the money moved) and end-of-day (a
partition), and writes only the lines whose state changed.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.kernels.delinquency import classify
from crossline.kernels.frames import EVENT_SCHEMA, LINE_SCHEMA
from crossline.servicing.rows import KEY
from crossline.store.bulk import empty_frame, read_frame, stage_ids, update_frame
from crossline.store.schema import credit_lines, loans


def line_states(ages: pl.DataFrame, lines: pl.DataFrame, day: date) -> pl.DataFrame:
    """New delinquency state of each line given its loans' ageing.

    A written-off line is reported as bad debt (B, loss) and keeps the DPD and
    bucket it had on the day it was written off.
    """
    per_line = ages.group_by("credit_line_id").agg(
        pl.col("dpd").max().alias("new_dpd"), pl.col("counted_dpd").max().alias("counted_dpd")
    )
    joined = lines.join(per_line, on="credit_line_id", how="left").with_columns(
        pl.col("new_dpd").fill_null(0).cast(pl.Int32),
        pl.col("counted_dpd").fill_null(0).cast(pl.Int32),
    )
    classified = classify(
        joined.rename(
            {
                "bucket": "old_bucket",
                "classification": "old_classification",
                "pboc_status": "old_pboc_status",
            }
        )
    )
    written_off = pl.col("written_off_on").is_not_null()
    frozen = written_off & (pl.col("written_off_on") < day)
    return classified.with_columns(
        pl.when(frozen).then(pl.col("dpd")).otherwise(pl.col("new_dpd")).alias("new_dpd"),
        pl.when(frozen).then(pl.col("old_bucket")).otherwise(pl.col("bucket")).alias("bucket"),
        pl.when(written_off)
        .then(pl.lit("loss"))
        .otherwise(pl.col("classification"))
        .alias("classification"),
        pl.when(written_off)
        .then(pl.lit("B"))
        .otherwise(pl.col("pboc_status"))
        .alias("pboc_status"),
    )


def _event_rows(frame: pl.DataFrame, day: date, kind: str) -> pl.DataFrame:
    return frame.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit(kind).alias("type"),
        "product",
        "credit_line_id",
        pl.lit(None, pl.Int64).alias("loan_id"),
        pl.struct(
            pl.col("old_bucket").alias("from_bucket"),
            pl.col("bucket").alias("to_bucket"),
            pl.col("new_dpd").alias("dpd"),
            "classification",
            "pboc_status",
        )
        .struct.json_encode()
        .alias("payload"),
    )


def transition_events(states: pl.DataFrame, day: date) -> pl.DataFrame:
    """Outbox events for lines whose bucket moved: bucket_changed, plus overdue_started or cured."""
    moved = states.filter(pl.col("bucket") != pl.col("old_bucket"))
    if moved.is_empty():  # nearly always: building three empty event frames costs ~1 ms
        return empty_frame(EVENT_SCHEMA)
    started = moved.filter(pl.col("old_bucket") == "M0")
    cured = moved.filter(pl.col("bucket") == "M0")
    return pl.concat(
        [
            _event_rows(started, day, "overdue_started"),
            _event_rows(moved, day, "bucket_changed"),
            _event_rows(cured, day, "cured"),
        ]
    ).cast(EVENT_SCHEMA)


def apply_ageing(
    conn: sa.Connection,
    ages: pl.DataFrame,
    lines: pl.DataFrame,
    old_loan_dpd: pl.DataFrame,
    day: date,
) -> pl.DataFrame:
    """Store changed line and loan DPD state; return the transition events.

    Also keeps the two facts the bureau needs and a daily DPD overwrites: the
    worst DPD since the last month-end report (counted as the line's status is,
    so days inside a grace period are not late), and the day the line was cured.
    """
    states = line_states(ages, lines, day)
    changed = states.filter(
        (pl.col("new_dpd") != pl.col("dpd"))
        | (pl.col("bucket") != pl.col("old_bucket"))
        | (pl.col("classification") != pl.col("old_classification"))
        | (pl.col("pboc_status") != pl.col("old_pboc_status"))
    )
    update_frame(
        conn,
        credit_lines,
        "credit_line_id",
        changed.select(
            "credit_line_id",
            pl.col("new_dpd").alias("dpd"),
            "bucket",
            "classification",
            "pboc_status",
            pl.max_horizontal("month_max_dpd", "counted_dpd").alias("month_max_dpd"),
            pl.when((pl.col("dpd") > 0) & (pl.col("new_dpd") == 0))
            .then(pl.lit(day, pl.Date))
            .otherwise(pl.col("cured_on"))
            .alias("cured_on"),
        ),
    )
    if not (old_loan_dpd.is_empty() and ages.is_empty()):  # else every loan stays at 0
        update_frame(conn, loans, "loan_id", _loan_changes(ages, old_loan_dpd))
    return transition_events(states, day)


def _loan_changes(ages: pl.DataFrame, old_loan_dpd: pl.DataFrame) -> pl.DataFrame:
    """The loans whose DPD moved: late before (``old_loan_dpd``) or now (``ages``)."""
    return (
        old_loan_dpd.join(
            ages.select("loan_id", pl.col("dpd").alias("new_dpd")),
            on="loan_id",
            how="full",
            coalesce=True,
        )
        .with_columns(pl.col("dpd").fill_null(0), pl.col("new_dpd").fill_null(0))
        .filter(pl.col("dpd") != pl.col("new_dpd"))
        .select("loan_id", pl.col("new_dpd").alias("dpd"))
    )


_LINES = sa.select(*(credit_lines.c[name] for name in LINE_SCHEMA))
_BORROWER_LINES = _LINES.where(credit_lines.c.borrower_id == KEY)


def read_lines(conn: sa.Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """Stored delinquency state of the lines matching ``where``."""
    return read_frame(conn, _LINES.where(where), LINE_SCHEMA)


def borrower_lines(conn: sa.Connection, borrower_id: str) -> pl.DataFrame:
    """``read_lines`` for one borrower, from a statement built once (``rows.KEY``)."""
    return read_frame(conn, _BORROWER_LINES, LINE_SCHEMA, {"key": borrower_id})


def has_live_late_lines(conn: sa.Connection, lo: int, hi: int) -> bool:
    """Whether shards [lo, hi) hold a late line that is not written off (and so must age).

    Lets end-of-day skip a partition with nothing due and nobody late without
    relying on every cure having been applied at payment time.
    """
    c = credit_lines.c
    found = conn.execute(
        sa.select(c.credit_line_id)
        .where(
            c.shard >= lo, c.shard < hi, c.dpd > sa.literal_column("0"), c.written_off_on.is_(None)
        )
        .limit(1)
    ).first()
    return found is not None


def read_partition_lines(conn: sa.Connection, lo: int, hi: int, ages: pl.DataFrame) -> pl.DataFrame:
    """Lines of shards [lo, hi) that are late now (in ``ages``) or were late at the last
    close (so that a cure is seen); a partial index serves the second set."""
    c = credit_lines.c
    was_late = read_lines(
        conn, sa.and_(c.shard >= lo, c.shard < hi, c.dpd > sa.literal_column("0"))
    )
    missing = ages["credit_line_id"].filter(
        ~ages["credit_line_id"].is_in(was_late["credit_line_id"].implode())
    )
    if missing.is_empty():
        return was_late
    staged = stage_ids(conn, "late_lines", missing)
    return pl.concat([was_late, read_lines(conn, c.credit_line_id.in_(sa.select(staged.c.id)))])


_LATE_LOANS = sa.select(loans.c.loan_id, loans.c.dpd).where(
    loans.c.dpd > 0, loans.c.status == "active"
)
_BORROWER_LATE_LOANS = _LATE_LOANS.where(loans.c.borrower_id == KEY)
_LOAN_DPD = pl.Schema({"loan_id": pl.Int64(), "dpd": pl.Int32()})


def read_loan_dpd(conn: sa.Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """Stored DPD of the active loans matching ``where`` that are currently late."""
    return read_frame(conn, _LATE_LOANS.where(where), _LOAN_DPD)


def borrower_loan_dpd(conn: sa.Connection, borrower_id: str) -> pl.DataFrame:
    """``read_loan_dpd`` for one borrower, from a statement built once (``rows.KEY``)."""
    return read_frame(conn, _BORROWER_LATE_LOANS, _LOAN_DPD, {"key": borrower_id})
