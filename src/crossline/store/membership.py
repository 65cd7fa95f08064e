"""Membership in a list bound at execution: ``column = ANY(:list)`` on PostgreSQL.

SQLAlchemy binds a list for ``IN`` as an "expanding" parameter: the cached
statement holds a placeholder that is rendered into one parameter per element on
every execution, and the driver then parses a statement it has not seen. On a
decision's hot read that cost a fifth of its statement handling on the client
(py-spy, 2026-11-25). PostgreSQL takes the list as one array parameter, so the
statement's text never changes. SQLite has no arrays and keeps the expanding
``IN``; it runs in process, where no statement is sent.

A list fixed when the statement is built needs none of this: ``column.in_`` of
``sa.literal`` values renders one ordinary parameter per element.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


class OneOf(sa.ColumnElement[bool]):
    """Whether ``column``'s value is in the list bound as ``name`` when executed."""

    inherit_cache = True
    type = sa.Boolean()
    _is_implicitly_boolean = True
    """A condition, as ``IN`` is: SQLite must not compare it to 1."""
    _traverse_internals: list[tuple[str, InternalTraversal]] = [  # noqa: RUF012
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]
    """What makes two of them one statement to SQLAlchemy's cache (read from the class)."""

    def __init__(self, column: sa.ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def one_of(column: sa.ColumnElement[Any], name: str) -> OneOf:
    """``column IN :name``, the list given when the statement is executed."""
    return OneOf(column, name)


@compiles(OneOf)
def _expanding_in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = sa.bindparam(element.name, expanding=True, type_=element.column.type)
    return compiler.process(element.column.in_(values), **kw)


@compiles(OneOf, "postgresql")
def _equals_any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = sa.bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return compiler.process(element.column == sa.any_(values), **kw)
