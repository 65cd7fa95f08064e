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

from crossline.store.inserts import Inserts, row_of
from crossline.store.numbered import append_frame, append_rows
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


def write_events(conn: sa.Connection, events: pl.DataFrame) -> int:
    """Append a batch's events (``EVENT_SCHEMA``) to the outbox, numbered by borrower and
    line (stable, so a line's events keep their order: see ``store.numbered``)."""
    if events.is_empty():  # a command's refresh, mostly: not even a column to add
        return 0
    return append_frame(conn, outbox, "outbox", events.with_columns(handled=pl.lit(False)))


def emit(
    conn: sa.Connection,
    events: list[Event],
    first: int | None = None,
    later: Inserts | None = None,
) -> int:
    """Append events built by a command, numbered as ``write_events`` numbers a batch's
    (``first`` and ``later``: as for ``store.numbered.append_rows``)."""
    rows = [
        row_of(e) | {"payload": json.dumps(e.payload, sort_keys=True), "handled": False}
        for e in events
    ]
    return append_rows(conn, outbox, "outbox", rows, first, later)


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
