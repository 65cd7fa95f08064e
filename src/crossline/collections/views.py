"""A borrower's contacts and promises as STATE shows them: one short line each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from crossline.money import format_fen
from crossline.store.schema import contacts, promises


def collections_views(
    conn: sa.Connection, whose: Callable[[sa.Table], sa.ColumnElement[bool]]
) -> dict[str, dict[str, list[Any]]]:
    """borrower -> {"contacts": ["2026-04-10 23:00 call debtor unanswered", ...],
    "promises": [{"product", "amount", "by", "status"}, ...]}, for borrowers with any."""
    views: dict[str, dict[str, list[Any]]] = {}
    for k in conn.execute(
        sa.select(contacts).where(whose(contacts)).order_by(contacts.c.contact_id)
    ):
        answered = "answered" if k.answered else "unanswered"
        text = f"{k.business_date.isoformat()} {k.local_time} {k.product} {k.channel} {k.party}"
        views.setdefault(k.borrower_id, {"contacts": [], "promises": []})["contacts"].append(
            f"{text} {answered}"
        )
    for p in conn.execute(
        sa.select(promises).where(whose(promises)).order_by(promises.c.promise_id)
    ):
        views.setdefault(p.borrower_id, {"contacts": [], "promises": []})["promises"].append(
            {
                "product": p.product,
                "amount": format_fen(p.amount_fen),
                "by": p.due_on.isoformat(),
                "status": p.status,
            }
        )
    return views
