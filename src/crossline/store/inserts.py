"""Inserts a command sends together once it has decided: one round trip on PostgreSQL.

On PostgreSQL every statement is a round trip (about 0.3 ms on a 2-core machine),
and a decision ends with five or six inserts into different tables (the decision,
its notification, the bureau pull and its event, the application). None of them
reads what another writes, so they can go as one statement: data-modifying CTEs,
``WITH i0 AS (INSERT ... SELECT ... FROM jsonb_populate_recordset(...)), i1 AS
(...) SELECT 1``, each insert's rows bound as one JSON array. PostgreSQL runs every
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
import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


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
        shape = tuple((statement, tuple(rows[0])) for statement, rows in pending)
        values = {f"i{i}": _json_rows(rows) for i, (_, rows) in enumerate(pending)}
        conn.execute(_together(shape), values)


_Shape = tuple[tuple[sa.Insert, tuple[str, ...]], ...]


@functools.lru_cache(maxsize=64)
def _together(shape: _Shape) -> sa.Select[Any]:
    """The one statement for inserts of this shape (statements and their columns), built
    once and so compiled once. Each insert's rows are bound as one JSON array (``i<n>``)
    that PostgreSQL turns into rows of the table's own types
    (``jsonb_populate_recordset``): a handful of parameters, whatever the rows, where
    binding every value had made a decision's statement 70 parameters, too many for
    psycopg to cache its parsing (measured: 8 % of an application's client time)."""
    ctes = []
    for i, (statement, columns) in enumerate(shape):
        table = statement.table
        assert isinstance(table, sa.Table)
        typed: sa.ColumnClause[Any] = sa.literal_column(f"NULL::{table.name}")
        rows = sa.func.jsonb_populate_recordset(
            typed, sa.cast(sa.bindparam(f"i{i}", type_=sa.Text), postgresql.JSONB)
        ).table_valued(*columns)
        selected = sa.select(*(rows.c[c] for c in columns))
        ctes.append(statement.from_select(list(columns), selected).cte(f"i{i}"))
    return sa.select(sa.literal(1)).add_cte(*ctes)


def _json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _json_value(value: object) -> str:
    """A date, which JSON has no type for, as the text PostgreSQL reads into a date; any
    other such type is refused loudly rather than written as something else."""
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no JSON form for a {type(value).__name__} in an insert")


def row_of(record: DataclassInstance) -> dict[str, Any]:
    """A dataclass's fields as an insert's row. ``dataclasses.asdict`` would copy every
    nested value deeply (a payload dict, say), which a row written at once never needs:
    20 µs a record against 2."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


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
