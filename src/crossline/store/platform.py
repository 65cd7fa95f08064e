"""The platform's own state: business date, catalog snapshot, batch partitioning."""

from __future__ import annotations

import zlib
from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.store.schema import SHARDS, borrowers, platform


class PlatformNotInitialisedError(RuntimeError):
    """The database has no platform row yet (run a scenario or ``crossline init``)."""


def shard_of(borrower_id: str) -> int:
    """Stable shard of a borrower: the same on every machine and every run."""
    return zlib.crc32(borrower_id.encode("utf-8")) % SHARDS


def initialise(
    conn: sa.Connection, *, business_date: date, catalog_json: str, partitions: int = 4
) -> None:
    """Create the platform row; refuses to overwrite an existing one."""
    if not 1 <= partitions <= SHARDS:
        raise ValueError(f"partitions: expected 1..{SHARDS}, got {partitions}")
    if conn.execute(sa.select(platform.c.platform_id)).first() is not None:
        raise ValueError("the database is already initialised")
    conn.execute(
        sa.insert(platform).values(
            platform_id=1,
            business_date=business_date,
            partitions=partitions,
            catalog_json=catalog_json,
        )
    )


_STATE = sa.select(
    platform.c.platform_id,
    platform.c.business_date,
    platform.c.partitions,
    platform.c.catalog_json,
    platform.c.closing,
)


def is_initialised(conn: sa.Connection) -> bool:
    """Whether the database holds a platform (and so a book): migrated and initialised."""
    if not sa.inspect(conn).has_table(platform.name):
        return False
    return conn.execute(sa.select(platform.c.platform_id)).first() is not None


def state(conn: sa.Connection) -> sa.Row[Any, Any, Any, Any, Any]:
    """The platform row: business date, partitions and catalog snapshot, and ``closing``
    (``is_closing``). One read, since every command needs all of it."""
    row = conn.execute(_STATE).first()
    if row is None:
        raise PlatformNotInitialisedError("the database has not been initialised")
    return row


def business_date(conn: sa.Connection) -> date:
    """Today, as far as the platform is concerned."""
    day: date = state(conn).business_date
    return day


def partitions(conn: sa.Connection) -> int:
    """How many partitions end-of-day splits the shards into."""
    return int(state(conn).partitions)


def catalog_json(conn: sa.Connection) -> str:
    """The catalog this database services its lines with."""
    return str(state(conn).catalog_json)


def begin_close(conn: sa.Connection) -> None:
    """Mark the business date as closing, once every command in flight has finished.

    On PostgreSQL the EXCLUSIVE lock on ``borrowers`` waits for every transaction that
    holds a borrower (``servicing.context.lock_borrowers``) and holds back new ones
    until this commits; plain reads go on. Those held back find the day closing when
    they get their borrower and are refused. On SQLite the flag's write waits for the
    single writer, and commands take the write lock before they check the flag.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"LOCK TABLE {borrowers.name} IN EXCLUSIVE MODE")
    conn.execute(sa.update(platform).values(closing=True))


def is_closing(conn: sa.Connection) -> bool:
    """Whether the business date's end-of-day has begun (and not yet finished)."""
    return bool(conn.execute(sa.select(platform.c.closing)).scalar_one())


def finish_close(conn: sa.Connection, next_day: date) -> None:
    """Open ``next_day`` (only end-of-day calls this)."""
    conn.execute(sa.update(platform).values(business_date=next_day, closing=False))


def shard_range(partition: int, total: int) -> tuple[int, int]:
    """Half-open shard range [lo, hi) of one partition."""
    lo = partition * SHARDS // total
    hi = (partition + 1) * SHARDS // total
    return lo, hi
