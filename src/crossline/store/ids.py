"""Reproducible identifiers from a transactional counter.

Database sequences are not rolled back with a transaction, so a crashed
end-of-day followed by a rerun would number its journal entries differently
from an uninterrupted run. A counter row updated inside the same transaction
rolls back with it, which makes the rerun's journal identical, ids included.
"""

from __future__ import annotations

import sqlalchemy as sa

from crossline.store.schema import id_counters


def allocate_ids(conn: sa.Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive ids under ``name``; return the first."""
    if count <= 0:
        raise ValueError("count must be positive")
    updated = conn.execute(
        sa.update(id_counters)
        .where(id_counters.c.name == name)
        .values(next_value=id_counters.c.next_value + count)
        .returning(id_counters.c.next_value)
    ).scalar_one_or_none()
    if updated is None:
        conn.execute(sa.insert(id_counters).values(name=name, next_value=1 + count))
        return 1
    return int(updated) - count
