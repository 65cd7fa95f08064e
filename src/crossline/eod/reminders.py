"""The borrower's notices that end-of-day sends: due reminders and the overdue notice.

Due reminders: the close of day T opens T+1, so it tells each line with an unpaid
amount falling due on T+1 ("due today", sent on T+1) or on T+4 ("due in 3 days"),
one notification per line and due date, dated T+1 (the day the borrower reads it).
A bill paid off beforehand owes nothing and gets no reminder.

The overdue notice goes out on the close that starts a delinquency (the line's
``overdue_started`` event), with the amount then overdue.

Both are written in the partition's transaction, so a close resumed after a crash
(which skips the partitions done) sends each exactly once; a line already reminded
for a date is skipped all the same, so even a repeated partition could not send twice.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.events.notifications import line_notices, write_notifications
from crossline.kernels.frames import fen_text
from crossline.servicing.balances import line_balances, owed
from crossline.store.bulk import read_frame, stage_ids
from crossline.store.schema import OPEN, credit_lines, installments, loans, notifications

DUE_REMINDER = "due_reminder"
OVERDUE_NOTICE = "overdue_notice"

REMINDER_DAYS = (3, 0)
"""Days before the due date a reminder goes: T−3 and T."""

_DUE_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "due_date": pl.Date(),
        "owed_fen": pl.Int64(),
    }
)


def send_due_reminders(conn: sa.Connection, day: date, lo: int, hi: int) -> int:
    """Remind every line of shards [lo, hi) with an unpaid amount due on ``day`` + 1 or
    ``day`` + 4; returns how many reminders were written."""
    tomorrow = day + timedelta(days=1)
    targets = [tomorrow + timedelta(days=n) for n in REMINDER_DAYS]
    i = installments.c
    statement = (
        sa.select(
            i.borrower_id,
            i.shard,
            credit_lines.c.product,
            credit_lines.c.credit_line_id,
            i.due_date,
            owed(scheduled=True),
        )
        .select_from(
            installments.join(loans, i.loan_id == loans.c.loan_id).join(
                credit_lines, loans.c.credit_line_id == credit_lines.c.credit_line_id
            )
        )
        .where(
            i.shard >= lo,
            i.shard < hi,
            i.status == OPEN,
            i.due_date.in_(targets),
            loans.c.status == "active",
            credit_lines.c.written_off_on.is_(None),
            i.billed_on.is_not(None) | (loans.c.kind != "revolving"),
        )
    )
    rows = read_frame(conn, statement, _DUE_SCHEMA)
    due = (
        rows.group_by("borrower_id", "shard", "product", "credit_line_id", "due_date")
        .agg(pl.col("owed_fen").sum())
        .filter(pl.col("owed_fen") > 0)
    )
    if due.is_empty():
        return 0
    due = due.join(
        _reminded(conn, due["credit_line_id"], tomorrow), on="credit_line_id", how="anti"
    )
    payload = pl.struct(
        pl.col("due_date").dt.to_string("%Y-%m-%d"),
        fen_text(pl.col("owed_fen")).alias("amount"),
        (pl.col("due_date") - pl.lit(tomorrow, pl.Date)).dt.total_days().alias("days_before"),
    ).struct.json_encode()
    frame = line_notices(due.sort("credit_line_id", "due_date"), tomorrow, DUE_REMINDER, payload)
    return write_notifications(conn, frame) if frame.height else 0


def _reminded(conn: sa.Connection, line_ids: pl.Series, on: date) -> pl.DataFrame:
    """Of ``line_ids``, the lines already reminded on ``on``."""
    n = notifications.c
    staged = stage_ids(conn, "reminder_lines", line_ids.unique())
    return read_frame(
        conn,
        sa.select(n.credit_line_id)
        .where(
            n.credit_line_id.in_(sa.select(staged.c.id)),
            n.kind == DUE_REMINDER,
            n.business_date == on,
        )
        .distinct(),
        pl.Schema({"credit_line_id": pl.Int64()}),
    )


def send_overdue_notices(conn: sa.Connection, events: pl.DataFrame, day: date) -> int:
    """Tell each line whose delinquency started at this close (``overdue_started`` among
    ``events``) since when it is late and how much is overdue; returns how many."""
    started = events.filter(pl.col("type") == "overdue_started")
    if started.is_empty():
        return 0
    dpd = pl.col("payload").str.json_path_match("$.dpd").cast(pl.Int32)
    started = started.with_columns(dpd.alias("dpd"))
    staged = stage_ids(conn, "overdue_lines", started["credit_line_id"].unique())
    overdue = line_balances(
        conn, credit_lines.c.credit_line_id.in_(sa.select(staged.c.id)), day
    ).select("credit_line_id", "overdue_fen")
    since = pl.lit(day, pl.Date) - pl.duration(days=pl.col("dpd") - 1)
    payload = pl.struct(
        pl.col("dpd"),
        since.dt.to_string("%Y-%m-%d").alias("overdue_since"),
        fen_text(pl.col("overdue_fen").fill_null(0)).alias("amount"),
    ).struct.json_encode()
    frame = started.join(overdue, on="credit_line_id", how="left").sort("credit_line_id")
    return write_notifications(conn, line_notices(frame, day, OVERDUE_NOTICE, payload))
