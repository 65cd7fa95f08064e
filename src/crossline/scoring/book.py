"""The platform's own history as training and monitoring data.

At every month end the nightly scoring keeps each borrower's features and
score per group view (``feature_snapshots``). A snapshot is *matured* once
12 months of bureau records lie after it; its label is whether the borrower
then reached 90 days past due, or bad debt, on any of their accounts within
those 12 months (the accounts' worst DPD of each month, ``max_dpd``, which the
platform keeps for its own lines whatever was reported).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.calendar import add_months, last_day_of_month
from crossline.kernels.features import FEATURE_SCHEMA
from crossline.store.bulk import read_frame
from crossline.store.schema import bureau_records, feature_snapshots

LABEL_MONTHS = 12
BAD_DPD = 90
TARGET = "bad"

_SNAPSHOT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "period_end": pl.Date(),
        "score": pl.Int32(),
        "model_version": pl.String(),
        "features": pl.String(),
    }
)
_OUTCOME_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "outcome_end": pl.Date(),
        "max_dpd": pl.Int32(),
        "status": pl.String(),
    }
)


def last_reported(conn: sa.Connection) -> date | None:
    """The latest month end reported, which bounds what has matured."""
    value: date | None = conn.execute(sa.select(sa.func.max(bureau_records.c.period_end))).scalar()
    return value


def snapshots(conn: sa.Connection, where: sa.ColumnElement[bool] | None = None) -> pl.DataFrame:
    """Snapshots matching ``where``, their features unpacked into columns."""
    s = feature_snapshots.c
    statement = sa.select(*(s[name] for name in _SNAPSHOT_SCHEMA))
    if where is not None:
        statement = statement.where(where)
    frame = read_frame(conn, statement, _SNAPSHOT_SCHEMA)
    values = pl.Struct({k: v for k, v in FEATURE_SCHEMA.items() if k != "borrower_id"})
    return frame.with_columns(pl.col("features").str.json_decode(values)).unnest("features")


def labelled(frame: pl.DataFrame, outcomes: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (snapshots) with ``bad``: 90+ DPD or B within the 12 months after each."""
    horizon = pl.col("period_end").dt.offset_by(f"{LABEL_MONTHS}mo").dt.month_end()
    within = (pl.col("outcome_end") > pl.col("period_end")) & (pl.col("outcome_end") <= horizon)
    worse = (pl.col("max_dpd") >= BAD_DPD) | (pl.col("status") == "B")
    bads = (
        frame.select("borrower_id", "period_end")
        .unique()
        .join(outcomes, on="borrower_id")
        .filter(within & worse)
        .select("borrower_id", "period_end")
        .unique()
        .with_columns(pl.lit(1, pl.Int8).alias(TARGET))
    )
    return frame.join(bads, on=["borrower_id", "period_end"], how="left").with_columns(
        pl.col(TARGET).fill_null(0)
    )


def matured_snapshots(conn: sa.Connection, group: str | None = None) -> pl.DataFrame:
    """Every snapshot with a full 12-month outcome, labelled; empty if none has matured."""
    latest = last_reported(conn)
    if latest is None:
        return pl.DataFrame()
    back = add_months(latest, -LABEL_MONTHS)
    cutoff = back.replace(day=last_day_of_month(back.year, back.month))
    s = feature_snapshots.c
    where = s.period_end <= cutoff
    if group is not None:
        where = sa.and_(where, s.lender_group == group)
    frame = snapshots(conn, where)
    if frame.is_empty():
        return frame
    r = bureau_records.c
    outcomes = read_frame(
        conn,
        sa.select(r.borrower_id, r.period_end, r.max_dpd, r.status).where(
            r.period_end > frame["period_end"].min()
        ),
        _OUTCOME_SCHEMA,
    )
    return labelled(frame, outcomes)
