"""Notifications sent to borrowers, kept as rows.

A notice the law requires (the Art. 15 pre-report notice first) must be
provable later, so sending one means writing it in the same transaction as
the decision that needed it. The default channel is the database itself;
other channels deliver what is written here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.store.inserts import Inserts, row_of
from crossline.store.numbered import append_frame, append_rows
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


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification, as a command sends it."""

    borrower_id: str
    shard: int
    business_date: date
    kind: str
    payload: dict[str, Any]
    product: str | None = None
    credit_line_id: int | None = None


def line_notices(frame: pl.DataFrame, day: date, kind: str, payload: pl.Expr) -> pl.DataFrame:
    """A batch's notices about lines: one ``kind`` notice dated ``day`` per row of ``frame``
    (its borrower_id, shard, product and credit_line_id), ``payload`` its JSON text."""
    return frame.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit(kind).alias("kind"),
        "product",
        "credit_line_id",
        payload.alias("payload"),
    ).cast(NOTIFICATION_SCHEMA)


def write_notifications(conn: sa.Connection, frame: pl.DataFrame) -> int:
    """Append a batch's notifications (``NOTIFICATION_SCHEMA``), numbered by borrower and
    line (``store.numbered``)."""
    channel = pl.lit(DEFAULT_CHANNEL).alias("channel")
    return append_frame(conn, notifications, "notification", frame.with_columns(channel))


def notify(
    conn: sa.Connection,
    notices: list[Notice],
    first: int | None = None,
    later: Inserts | None = None,
) -> int:
    """Append notifications sent by a command, numbered as a batch's are (``first`` and
    ``later``: as for ``store.numbered.append_rows``)."""
    rows = [
        row_of(n)
        | {"payload": json.dumps(n.payload, ensure_ascii=False), "channel": DEFAULT_CHANNEL}
        for n in notices
    ]
    return append_rows(conn, notifications, "notification", rows, first, later)
