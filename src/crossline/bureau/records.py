"""Finding one reported record: what disputes and explanatory statements attach to."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.servicing.context import Context, require_borrower
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import get_line
from crossline.store.schema import bureau_records


def get_record(ctx: Context, borrower_id: str, product: str, period_end: date) -> Any:
    """The record reported for the borrower's line of ``product`` at ``period_end``."""
    require_borrower(ctx, borrower_id)
    line = get_line(ctx, borrower_id, product)
    r = bureau_records.c
    row = ctx.conn.execute(
        sa.select(bureau_records).where(
            r.credit_line_id == line.credit_line_id, r.period_end == period_end
        )
    ).first()
    if row is None:
        raise RefusedError("no_record", f"no {product} record was reported for {period_end:%Y-%m}")
    return row
