"""Reproducible identifiers from a transactional counter.

Database sequences are not rolled back with a transaction, so a crashed
end-of-day followed by a rerun would number its journal entries differently
from an uninterrupted run. A counter row updated inside the same transaction
rolls back with it, which makes the rerun's journal identical, ids included.

A command that needs ids of several counters takes them together
(``allocate_many``): on PostgreSQL one statement, one round trip, instead of
one per counter.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

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


def allocate_many(conn: sa.Connection, counts: Mapping[str, int]) -> dict[str, int]:
    """Reserve ``counts[name]`` consecutive ids under each name; return each first, the
    ids ``allocate_ids`` would give one counter at a time.

    On PostgreSQL one statement reserves them all, locking the counter rows in name
    order, a fixed order, so that two commands cannot each hold a row the other
    waits for. SQLite runs in process, where a statement a counter costs no round
    trip, and takes them one at a time in the same order.
    """
    if any(count <= 0 for count in counts.values()):
        raise ValueError("count must be positive")
    names = tuple(sorted(counts))
    if conn.dialect.name != "postgresql":
        return {name: allocate_ids(conn, name, counts[name]) for name in names}
    parameters = {f"count_{i}": counts[name] for i, name in enumerate(names)}
    reserved = {
        str(name): int(last) - counts[name]
        for name, last in conn.execute(_reserve_all(names), parameters)
    }
    missing = [name for name in names if name not in reserved]
    for name in missing:
        _create(conn, name)
    if missing:
        reserved |= allocate_many(conn, {name: counts[name] for name in missing})
    return reserved


@functools.cache
def _reserve_all(names: tuple[str, ...]) -> sa.Update:
    """``allocate_many``'s statement for ``names`` (sorted), counts bound as ``count_<i>``:
    the rows are locked in name order first, then each moves by its count."""
    c = id_counters.c
    locked = (
        sa.select(c.name)
        .where(c.name.in_([sa.literal(name) for name in names]))
        .order_by(c.name)
        .with_for_update()
        .cte("locked")
    )
    step = sa.case(
        {name: sa.bindparam(f"count_{i}", type_=sa.BigInteger) for i, name in enumerate(names)},
        value=c.name,
    )
    return (
        sa.update(id_counters)
        .where(c.name.in_(sa.select(locked.c.name)))
        .values(next_value=c.next_value + step)
        .returning(c.name, c.next_value)
    )


def _create(conn: sa.Connection, name: str) -> None:
    """Create a counter at 1, unless another transaction just did: two processes using a
    new counter at once must not collide on its key."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(id_counters).values(name=name, next_value=1)
    conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
