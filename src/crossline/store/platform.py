"""The platform's own state: business date, catalog snapshot, batch partitioning."""

from __future__ import annotations

import zlib
from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.store.schema import SHARDS, eod_partitions, platform


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
    sa.exists().where(eod_partitions.c.business_date == platform.c.business_date).label("closing"),
)


def is_initialised(conn: sa.Connection) -> bool:
    """Whether the database holds a platform (and so a book): migrated and initialised."""
    if not sa.inspect(conn).has_table(platform.name):
        return False
    return conn.execute(_STATE).first() is not None


def state(conn: sa.Connection) -> sa.Row[Any, Any, Any, Any]:
    """The platform row: business date, partitions and catalog snapshot, and ``closing``:
    whether the business date's end-of-day has begun. One read, since every command
    needs all of it."""
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


def set_business_date(conn: sa.Connection, day: date) -> None:
    """Move the business date (only end-of-day calls this)."""
    conn.execute(sa.update(platform).values(business_date=day))


def shard_range(partition: int, total: int) -> tuple[int, int]:
    """Half-open shard range [lo, hi) of one partition."""
    lo = partition * SHARDS // total
    hi = (partition + 1) * SHARDS // total
    return lo, hi
