"""Appending rows numbered from a counter, in an order a rerun reproduces.

Outbox events and notifications take their ids from a transactional counter
(``store.ids``) in borrower-then-line order, stable within a line, so that a
rerun of the same work numbers them as the first run did. Batches arrive as
frames; a command writes a row or two, for which building a frame costs more
than the whole write, so rows come as dicts. Both go through the same order
and the same counter.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.store.bulk import insert_frame
from crossline.store.ids import allocate_ids
from crossline.store.inserts import Inserts, insert_rows

ORDER = ("borrower_id", "credit_line_id")
"""Numbering order; a row without a line comes before the borrower's lines' rows."""


def _id_column(table: sa.Table) -> str:
    (column,) = table.primary_key.columns
    return column.name


def _order_key(row: Mapping[str, Any]) -> tuple[str, bool, int]:
    line = row["credit_line_id"]
    return row["borrower_id"], line is not None, line or 0


def append_frame(conn: sa.Connection, table: sa.Table, counter: str, frame: pl.DataFrame) -> int:
    """Number ``frame``'s rows from ``counter`` in ``ORDER`` and insert them into ``table``."""
    if frame.is_empty():
        return 0
    frame = frame.sort(*ORDER, maintain_order=True)
    first = allocate_ids(conn, counter, frame.height)
    numbered = frame.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first).alias(_id_column(table))
    )
    return insert_frame(conn, table, numbered)


def append_rows(
    conn: sa.Connection,
    table: sa.Table,
    counter: str,
    rows: Sequence[Mapping[str, Any]],
    first: int | None = None,
    later: Inserts | None = None,
) -> int:
    """``append_frame`` for a command's few rows, given as dicts of the table's columns;
    ``first``: the first of the ids the command reserved for them with its other ids
    (``store.ids.allocate_many``), else they are taken here; ``later``: the command's
    inserts sent together (``store.inserts``), else the rows are inserted now."""
    if not rows:
        return 0
    ordered = sorted(rows, key=_order_key)
    if first is None:
        first = allocate_ids(conn, counter, len(ordered))
    id_column = _id_column(table)
    numbered = [{**row, id_column: first + i} for i, row in enumerate(ordered)]
    insert_rows(conn, _insert(table), numbered, later)
    return len(ordered)


@functools.cache
def _insert(table: sa.Table) -> sa.Insert:
    """One INSERT per table, built once, so that executing it reuses its compiled form."""
    return table.insert()
