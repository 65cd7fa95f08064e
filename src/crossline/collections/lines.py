"""The line a collections command is about, if collections may work it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crossline.collections.eligibility import collectible
from crossline.servicing.context import Context, require_borrower
from crossline.servicing.errors import RefusedError
from crossline.store.schema import credit_lines


def collectible_line(ctx: Context, borrower_id: str, product: str) -> Any:
    """The borrower's line of ``product``; refused when there is none or when it may not
    be collected (``eligibility.collectible``)."""
    require_borrower(ctx, borrower_id)
    c = credit_lines.c
    row = ctx.conn.execute(
        sa.select(
            c.credit_line_id, c.borrower_id, c.shard, c.product, c.dpd, collectible().label("ok")
        ).where(c.borrower_id == borrower_id, c.product == product)
    ).first()
    if row is None:
        raise RefusedError("no_line", f"borrower {borrower_id!r} has no {product} line")
    if not row.ok:
        raise RefusedError(
            "not_collectible", f"the {product} line is not in collections (it is not past due)"
        )
    return row
