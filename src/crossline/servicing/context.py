"""What every command runs against: a connection, the catalog and the business date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from crossline.catalog import Catalog, catalog_from_json
from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import borrowers

_BORROWER = sa.select(borrowers.c.borrower_id).where(
    borrowers.c.borrower_id == sa.bindparam("borrower_id")
)


@dataclass(frozen=True, slots=True)
class Context:
    """One command's view of the platform, inside one transaction."""

    conn: sa.Connection
    catalog: Catalog
    today: date
    catalog_json: str
    """The catalog as stored: what caches of things checked against it are keyed by."""

    def shard(self, borrower_id: str) -> int:
        """The borrower's shard, which every row of theirs carries."""
        return platform.shard_of(borrower_id)


def open_context(conn: sa.Connection) -> Context:
    """Read the catalog and business date; refuse commands while end-of-day is running.

    A command dated T after T's end-of-day has begun would land in a partition
    that may already be closed, so it must wait for the next business date.
    """
    state = platform.state(conn)
    today = state.business_date
    if state.closing:
        raise RefusedError("eod_in_progress", f"end-of-day for {today} is running; retry later")
    text = str(state.catalog_json)
    return Context(conn=conn, catalog=catalog_from_json(text), today=today, catalog_json=text)


def require_borrower(ctx: Context, borrower_id: str) -> None:
    """Refuse a command for a borrower the platform does not know."""
    found = ctx.conn.execute(_BORROWER, {"borrower_id": borrower_id}).first()
    if found is None:
        raise RefusedError("unknown_borrower", f"borrower {borrower_id!r} is not registered")


_LOCK_BORROWER = _BORROWER.with_for_update()


def lock_borrower(ctx: Context, borrower_id: str) -> None:
    """Make the borrower's commands run one at a time: hold the borrower's row until this
    transaction ends.

    A command reads a line's rows, decides and writes them back; two at once for one
    borrower (two repayments of a line, two draws under one group limit, a replayed
    idempotency key) would each decide on what the other is changing, and on PostgreSQL
    one installment update was lost while both journal entries stood. SQLite has a single
    writer and needs no row lock (SQLAlchemy leaves FOR UPDATE out there)."""
    ctx.conn.execute(_LOCK_BORROWER, {"borrower_id": borrower_id})
