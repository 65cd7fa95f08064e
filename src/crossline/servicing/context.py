"""What every command runs against: a connection, the catalog and the business date."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crossline.catalog import Catalog, catalog_from_json
from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import borrowers
from crossline.store.schema import platform as platform_table

BORROWER = sa.select(borrowers.c.borrower_id).where(
    borrowers.c.borrower_id == sa.bindparam("borrower_id")
)
"""The borrower's row, if registered (bound: ``borrower_id``)."""


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
    found = ctx.conn.execute(BORROWER, {"borrower_id": borrower_id}).first()
    if found is None:
        raise unknown_borrower(borrower_id)


def unknown_borrower(borrower_id: str) -> RefusedError:
    """The refusal of a command for a borrower the platform does not know."""
    return RefusedError("unknown_borrower", f"borrower {borrower_id!r} is not registered")


def lock_borrowers(conn: sa.Connection, borrower_ids: Iterable[str]) -> bool:
    """Hold the borrowers until this transaction ends; return whether the day is closing.

    On PostgreSQL, row locks (``FOR UPDATE``) taken in id order, so two transactions
    locking several never wait on each other in a circle; the ids go as one array, as
    many as a close's events name, and the flag comes back in the same statement (a
    command pays one round trip for both). SQLite has one writer: a write that changes
    nothing, to one small row, takes its lock now, so that what the transaction reads
    next cannot change under it before it writes."""
    ids = sorted(set(borrower_ids))
    p, b = platform_table.c, borrowers.c
    if conn.dialect.name == "sqlite":
        if ids:  # one small row suffices: SQLite's write lock is the whole database's
            unchanged = b.monthly_income_fen
            conn.execute(
                sa.update(borrowers)
                .where(b.borrower_id == ids[0])
                .values(monthly_income_fen=unchanged)
            )
        return platform.is_closing(conn)
    wanted = sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.String))
    closing = conn.execute(
        sa.select(p.closing)
        .select_from(borrowers.join(platform_table, sa.true()))
        .where(b.borrower_id == sa.any_(wanted))
        .order_by(b.borrower_id)
        .with_for_update(of=borrowers)
    ).first()
    return platform.is_closing(conn) if closing is None else bool(closing[0])


def lock_borrower(ctx: Context, borrower_id: str) -> None:
    """Make the borrower's commands run one at a time: hold the borrower until this
    transaction ends; refused if end-of-day began since the context was read.

    A command reads a line's rows, decides and writes them back; two at once for one
    borrower (two repayments of a line, two draws under one group limit, a replayed
    idempotency key) would each decide on what the other is changing, and on PostgreSQL
    one installment update was lost while both journal entries stood. The close marks
    the day closing only once no command holds a borrower (``platform.begin_close``),
    so a command that gets its borrower after that must not go on."""
    if lock_borrowers(ctx.conn, [borrower_id]):
        raise RefusedError("eod_in_progress", f"end-of-day for {ctx.today} is running; retry later")
