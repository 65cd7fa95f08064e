"""What every command runs against: a connection, the catalog and the business date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crossline.catalog import Catalog, catalog_from_json
from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import borrowers, eod_partitions


@dataclass(frozen=True, slots=True)
class Context:
    """One command's view of the platform, inside one transaction."""

    conn: sa.Connection
    catalog: Catalog
    today: date

    def shard(self, borrower_id: str) -> int:
        """The borrower's shard, which every row of theirs carries."""
        return platform.shard_of(borrower_id)


def open_context(conn: sa.Connection) -> Context:
    """Read the catalog and business date; refuse commands while end-of-day is running.

    A command dated T after T's end-of-day has begun would land in a partition
    that may already be closed, so it must wait for the next business date.
    """
    today = platform.business_date(conn)
    started = conn.execute(
        sa.select(sa.func.count())
        .select_from(eod_partitions)
        .where(eod_partitions.c.business_date == today)
    ).scalar_one()
    if started:
        raise RefusedError("eod_in_progress", f"end-of-day for {today} is running; retry later")
    return Context(conn=conn, catalog=catalog_from_json(platform.catalog_json(conn)), today=today)


def require_borrower(ctx: Context, borrower_id: str) -> None:
    """Refuse a command for a borrower the platform does not know."""
    found = ctx.conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
    ).first()
    if found is None:
        raise RefusedError("unknown_borrower", f"borrower {borrower_id!r} is not registered")
