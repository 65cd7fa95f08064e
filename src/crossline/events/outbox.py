"""Writing and reading outbox events.

Events are written in the same transaction as the state change they describe,
so a handler can never see a change without its event or an event without its
change. Ids come from the transactional counter to stay reproducible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.kernels.frames import EVENT_SCHEMA
from crossline.store.bulk import insert_frame
from crossline.store.ids import allocate_ids
from crossline.store.schema import outbox


@dataclass(frozen=True, slots=True)
class Event:
    """One state change, as a service reports it."""

    borrower_id: str
    shard: int
    business_date: date
    type: str
    product: str | None = None
    credit_line_id: int | None = None
    loan_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def events_frame(events: list[Event]) -> pl.DataFrame:
    """Events as a frame in ``EVENT_SCHEMA``."""
    return pl.DataFrame(
        [
            (
                e.borrower_id,
                e.shard,
                e.business_date,
                e.type,
                e.product,
                e.credit_line_id,
                e.loan_id,
                json.dumps(e.payload, sort_keys=True),
            )
            for e in events
        ],
        schema=EVENT_SCHEMA,
        orient="row",
    )


def write_events(conn: sa.Connection, events: pl.DataFrame) -> int:
    """Append events (``EVENT_SCHEMA``) to the outbox.

    Sorted by borrower and line (stable, so a line's events keep their order)
    before ids are given, so a rerun numbers them as the first run did.
    """
    if events.is_empty():
        return 0
    events = events.sort("borrower_id", "credit_line_id", maintain_order=True)
    first = allocate_ids(conn, "outbox", events.height)
    framed = events.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first).alias("event_id"),
        pl.lit(False).alias("handled"),
    )
    return insert_frame(conn, outbox, framed)


def emit(conn: sa.Connection, events: list[Event]) -> int:
    """Append events built by a command."""
    return write_events(conn, events_frame(events))


def read_events(conn: sa.Connection, since_id: int = 0) -> list[dict[str, Any]]:
    """Outbox events after ``since_id`` in order, payload merged into each dict."""
    rows = conn.execute(
        sa.select(outbox).where(outbox.c.event_id > since_id).order_by(outbox.c.event_id)
    ).mappings()
    result = []
    for row in rows:
        event = {
            k: row[k]
            for k in (
                "event_id",
                "business_date",
                "type",
                "borrower_id",
                "product",
                "credit_line_id",
                "loan_id",
            )
        }
        event.update(json.loads(row["payload"]))
        result.append(event)
    return result
