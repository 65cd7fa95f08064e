"""Inserts a command sends together once it has decided: one round trip on PostgreSQL.

On PostgreSQL every statement is a round trip (about 0.3 ms on a 2-core machine),
and a decision ends with five or six inserts into different tables (the decision,
its notification, the bureau pull and its event, the application). None of them
reads what another writes, so they can go as one statement: data-modifying CTEs,
``WITH i0 AS (INSERT ...), i1 AS (INSERT ...) SELECT 1``. PostgreSQL runs every
sub-statement of a WITH whether the query reads it or not, and checks foreign keys
at the end of the statement. SQLite runs in process, where a statement costs no
round trip, and gets the inserts one by one in the order they were added.

An insert whose generated key the caller needs (``RETURNING``) is not for this:
it is executed at once, before. Nor are two inserts of one key (an upsert of a row
another insert of the batch writes): the sub-statements of a WITH all see the
database as it was before the statement, not each other's rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


class Inserts:
    """Rows to insert, each with the INSERT (a ``Table.insert()`` or a dialect's upsert
    built once by its writer) that writes it, kept in the order added until sent."""

    def __init__(self) -> None:
        self._pending: list[tuple[sa.Insert, list[Mapping[str, Any]]]] = []

    def add(self, statement: sa.Insert, rows: Sequence[Mapping[str, Any]]) -> None:
        """Keep ``rows`` (dicts of the same columns) for ``statement``."""
        if rows:
            self._pending.append((statement, list(rows)))

    def send(self, conn: sa.Connection) -> None:
        """Write everything added, then forget it."""
        pending, self._pending = self._pending, []
        if conn.dialect.name != "postgresql" or len(pending) < 2:
            for statement, rows in pending:
                conn.execute(statement, rows)
            return
        shape = tuple((statement, tuple(rows[0]), len(rows)) for statement, rows in pending)
        values = {
            _name(i, r, column): value
            for i, (_, rows) in enumerate(pending)
            for r, row in enumerate(rows)
            for column, value in row.items()
        }
        conn.execute(_together(shape), values)


_Shape = tuple[tuple[sa.Insert, tuple[str, ...], int], ...]


def _name(insert: int, row: int, column: str) -> str:
    return f"i{insert}_{row}_{column}"


@functools.lru_cache(maxsize=64)
def _together(shape: _Shape) -> sa.Select[Any]:
    """The one statement for inserts of this shape (statements, columns, rows), its values
    bound by name: built once per shape, so that it is compiled once. Literal values in a
    multi-row ``values()`` would make SQLAlchemy compile the statement anew every time
    (measured: 1.5 ms of a 7 ms application)."""
    ctes = []
    for i, (statement, columns, count) in enumerate(shape):
        table = statement.table
        rows = [
            {c: sa.bindparam(_name(i, r, c), type_=table.c[c].type) for c in columns}
            for r in range(count)
        ]
        ctes.append(statement.values(rows[0] if count == 1 else rows).cte(f"i{i}"))
    return sa.select(sa.literal(1)).add_cte(*ctes)


def insert_rows(
    conn: sa.Connection,
    statement: sa.Insert,
    rows: Sequence[Mapping[str, Any]],
    later: Inserts | None,
) -> None:
    """Insert ``rows`` now, or add them to ``later`` when the command sends its inserts
    together."""
    if later is None:
        conn.execute(statement, list(rows))
    else:
        later.add(statement, rows)
