"""Reproducible identifiers from a transactional counter.

Database sequences are not rolled back with a transaction, so a crashed
end-of-day followed by a rerun would number its journal entries differently
from an uninterrupted run. A counter row updated inside the same transaction
rolls back with it, which makes the rerun's journal identical, ids included.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crossline.store.schema import id_counters

_RESERVE = (
    sa.update(id_counters)
    .where(id_counters.c.name == sa.bindparam("counter"))
    .values(next_value=id_counters.c.next_value + sa.bindparam("count"))
    .returning(id_counters.c.next_value)
)


def allocate_ids(conn: sa.Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive ids under ``name``; return the first."""
    if count <= 0:
        raise ValueError("count must be positive")
    updated = conn.execute(_RESERVE, {"counter": name, "count": count}).scalar_one_or_none()
    if updated is None:
        _create(conn, name)
        return allocate_ids(conn, name, count)
    return int(updated) - count


def _create(conn: sa.Connection, name: str) -> None:
    """Create a counter at 1, unless another transaction just did: two processes using a
    new counter at once must not collide on its key."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(id_counters).values(name=name, next_value=1)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
