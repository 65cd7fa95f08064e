"""The pre-report notice (《征信业管理条例》 Art. 15).

Negative information may be reported only after the borrower was told. The
notice goes out at the end of the day an account becomes reportable (its DPD
reaches the provider's threshold), once per delinquency episode, and the
month-end report checks that it went out early enough.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.bureau.settings import reporting_settings
from crossline.calendar import last_day_of_month
from crossline.catalog import Catalog
from crossline.events.notifications import line_notices, write_notifications
from crossline.kernels.frames import EVENT_SCHEMA
from crossline.store.bulk import read_frame
from crossline.store.schema import credit_lines, notifications

PRE_REPORT_NOTICE = "pre_report_notice"

_LATE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "dpd": pl.Int32(),
    }
)


def last_notices(conn: sa.Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """Per line matching ``where`` (on ``credit_lines``), the day of its last pre-report notice."""
    n = notifications.c
    statement = (
        sa.select(n.credit_line_id, sa.func.max(n.business_date))
        .select_from(
            notifications.join(credit_lines, credit_lines.c.credit_line_id == n.credit_line_id)
        )
        .where(n.kind == PRE_REPORT_NOTICE, where)
        .group_by(n.credit_line_id)
    )
    return read_frame(
        conn, statement, pl.Schema({"credit_line_id": pl.Int64(), "noticed_on": pl.Date()})
    )


def first_report_date(day: date, lead_days: int) -> date:
    """The first month-end on which a status noticed on ``day`` may be reported."""
    earliest = day + timedelta(days=lead_days)
    return date(earliest.year, earliest.month, last_day_of_month(earliest.year, earliest.month))


def send_notices(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int
) -> pl.DataFrame:
    """Notify every line in shards [lo, hi) that is reportable at the end of ``day`` and was
    not yet notified in its current delinquency; return the ``notice_sent`` events."""
    c = credit_lines.c
    in_range = sa.and_(c.shard >= lo, c.shard < hi, c.dpd > sa.literal_column("0"))
    late = read_frame(
        conn,
        sa.select(c.credit_line_id, c.borrower_id, c.shard, c.product, c.dpd).where(
            in_range, c.written_off_on.is_(None)
        ),
        _LATE_SCHEMA,
    )
    if late.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    episode_start = pl.lit(day, pl.Date) - pl.duration(days=pl.col("dpd") - 1)
    settings = reporting_settings(catalog)
    settings = settings.with_columns(
        pl.Series(
            "report_from",
            [first_report_date(day, lead) for lead in settings["notice_lead_days"]],
            pl.Date,
        )
    )
    due = (
        late.join(settings, on="product")
        .join(last_notices(conn, in_range), on="credit_line_id", how="left")
        .filter(
            pl.col("dpd") >= pl.col("report_min_dpd"),
            pl.col("noticed_on").is_null() | (pl.col("noticed_on") < episode_start),
        )
    )
    if due.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    payload = pl.struct(
        "dpd", pl.col("report_from").dt.to_string("%Y-%m-%d").alias("reported_from")
    ).struct.json_encode()
    write_notifications(conn, line_notices(due, day, PRE_REPORT_NOTICE, payload))
    return due.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("notice_sent").alias("type"),
        "product",
        "credit_line_id",
        pl.lit(None, pl.Int64).alias("loan_id"),
        payload.alias("payload"),
    ).cast(EVENT_SCHEMA)
