"""The collections queue: every line collections may work, by bucket, with what to do.

Each entry is a line past due (``eligibility.collectible``) with its bucket's
strategy (``strategies.toml``), the amount overdue, the last contact and any
open promise with what the line has received towards it. Console staff see
their own lender group's lines only (``groups``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.collections.eligibility import collectible
from crossline.collections.promises import paid_towards
from crossline.collections.strategies import bucket_rank, strategy_for
from crossline.money import format_fen
from crossline.servicing.balances import line_balances
from crossline.store.schema import contacts, credit_lines, promises


def collections_queue(
    conn: sa.Connection, today: date, groups: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The queue on ``today``, latest bucket first, then most days past due."""
    c = credit_lines.c
    where = collectible()
    if groups is not None:
        where = where & c.lender_group.in_(list(groups))
    lines = conn.execute(
        sa.select(
            c.credit_line_id, c.borrower_id, c.product, c.lender_group, c.dpd, c.bucket
        ).where(where)
    ).all()
    if not lines:
        return []
    ids = [line.credit_line_id for line in lines]
    overdue = {
        row["credit_line_id"]: row["overdue_fen"]
        for row in line_balances(conn, c.credit_line_id.in_(ids), today).iter_rows(named=True)
    }
    last = _last_contacts(conn, ids)
    promised = _open_promises(conn, ids)
    queue = []
    for line in lines:
        strategy = strategy_for(line.bucket)
        queue.append(
            {
                "borrower": line.borrower_id,
                "product": line.product,
                "lender_group": line.lender_group,
                "dpd": line.dpd,
                "bucket": line.bucket,
                "strategy": None if strategy is None else strategy.name,
                "channels": [] if strategy is None else list(strategy.channels),
                "overdue": format_fen(overdue.get(line.credit_line_id, 0)),
                "last_contact": last.get(line.credit_line_id),
                "promise": promised.get(line.credit_line_id),
            }
        )
    queue.sort(key=lambda e: (-bucket_rank(e["bucket"]), -e["dpd"], e["borrower"], e["product"]))
    return queue


def _last_contacts(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    k = contacts.c
    latest = (
        sa.select(sa.func.max(k.contact_id))
        .where(k.credit_line_id.in_(ids))
        .group_by(k.credit_line_id)
    ).scalar_subquery()
    rows = conn.execute(sa.select(contacts).where(k.contact_id.in_(latest))).all()
    return {
        row.credit_line_id: {
            "at": f"{row.business_date.isoformat()} {row.local_time}",
            "channel": row.channel,
            "party": row.party,
            "answered": row.answered,
            "outcome": row.outcome,
        }
        for row in rows
    }


def _open_promises(conn: sa.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = conn.execute(paid_towards(promises.c.credit_line_id.in_(ids))).all()
    return {
        row.credit_line_id: {
            "amount": format_fen(row.amount_fen),
            "by": row.due_on.isoformat(),
            "paid": format_fen(row.paid_fen),
        }
        for row in rows
    }
