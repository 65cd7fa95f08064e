"""Explanatory statements (《征信业管理条例》 Art. 16): the borrower's own words beside a record."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.bureau.records import get_record
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError
from crossline.store.schema import bureau_explanations

MAX_LENGTH = 500


def add_explanation(
    ctx: Context, borrower_id: str, product: str, period_end: date, text: str
) -> dict[str, Any]:
    """Attach a statement to a reported record; it is shown with the record from now on."""
    if not text.strip() or len(text) > MAX_LENGTH:
        raise InputError("text", f"expected a statement of 1 to {MAX_LENGTH} characters")
    record = get_record(ctx, borrower_id, product, period_end)
    explanation_id = ctx.conn.execute(
        sa.insert(bureau_explanations)
        .values(
            borrower_id=borrower_id,
            shard=record.shard,
            credit_line_id=record.credit_line_id,
            product=product,
            period_end=period_end,
            text=text.strip(),
            filed_on=ctx.today,
        )
        .returning(bureau_explanations.c.explanation_id)
    ).scalar_one()
    return {"explanation_id": explanation_id}
