"""Notifications sent to borrowers, kept as rows.

A notice the law requires (the Art. 15 pre-report notice first) must be
provable later, so sending one means writing it in the same transaction as
the decision that needed it. The default channel is the database itself;
other channels deliver what is written here.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from crossline.store.bulk import insert_frame
from crossline.store.ids import allocate_ids
from crossline.store.schema import notifications

NOTIFICATION_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "business_date": pl.Date(),
        "kind": pl.String(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "payload": pl.String(),
    }
)
"""A notification before it has an id and a channel."""

DEFAULT_CHANNEL = "database"


def write_notifications(conn: sa.Connection, frame: pl.DataFrame) -> int:
    """Append notifications (``NOTIFICATION_SCHEMA``), numbered by borrower and line."""
    if frame.is_empty():
        return 0
    frame = frame.sort("borrower_id", "credit_line_id", maintain_order=True)
    first = allocate_ids(conn, "notification", frame.height)
    return insert_frame(
        conn,
        notifications,
        frame.with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + first).alias("notification_id"),
            pl.lit(DEFAULT_CHANNEL).alias("channel"),
        ),
    )
