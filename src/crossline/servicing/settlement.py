"""Settlement: the borrower pays everything owed on a line and the account is closed.

The payment is the payoff ``repay all`` takes (due rows, interest accrued to
today, principal not yet due, and what a write-off left to recover), so a
settlement can never differ from paying everything and then closing. A
closed line is reported settled (C) at the next month end, a written-off one
too: the bad-debt months stay in its history and the delinquency ends on the
settlement day, which starts the 5-year retention of those records
(DOMAIN §3, ``bureau.reporting``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.money import format_fen
from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import get_line
from crossline.servicing.repayment import RepaymentResult, repay
from crossline.store.schema import credit_lines, loans

CLOSED = "closed"


def _pay_everything(ctx: Context, borrower_id: str, product_id: str) -> RepaymentResult | None:
    """The payoff, or None when the line owes nothing (it is closed all the same)."""
    try:
        return repay(ctx, borrower_id, product_id, "all")
    except RefusedError as exc:
        if exc.code == "nothing_owed":
            return None
        raise


def settle(ctx: Context, borrower_id: str, product_id: str) -> dict[str, Any]:
    """Pay off the borrower's line for ``product_id`` and close it."""
    line = get_line(ctx, borrower_id, product_id)
    if line.status == CLOSED:
        raise RefusedError("line_closed", f"the {product_id} line is already closed")
    paid = _pay_everything(ctx, borrower_id, product_id)
    still_owed = ctx.conn.execute(
        sa.select(sa.func.count())
        .select_from(loans)
        .where(
            loans.c.credit_line_id == line.credit_line_id,
            loans.c.status == "active",
            loans.c.kind != "revolving",
        )
    ).scalar_one()
    if still_owed:  # pragma: no cover - repay all pays off every installment loan
        raise RefusedError("not_settled", f"{still_owed} loans on the line are still open")
    ctx.conn.execute(
        sa.update(loans)
        .where(loans.c.credit_line_id == line.credit_line_id, loans.c.status == "active")
        .values(status="paid_off", closed_on=ctx.today)
    )
    # A written-off line's bad debt ends today; any other late line was cured by the payoff.
    c = credit_lines.c
    written_off = c.written_off_on.is_not(None)
    ctx.conn.execute(
        sa.update(credit_lines)
        .where(c.credit_line_id == line.credit_line_id)
        .values(status=CLOSED, cured_on=sa.case((written_off, ctx.today), else_=c.cured_on))
    )
    amount = format_fen(paid.amount_fen if paid is not None else 0)
    recovered = format_fen(paid.recovered_fen if paid is not None else 0)
    payload = {"amount": amount, "recovered": recovered}
    emit(
        ctx.conn,
        [
            Event(
                borrower_id,
                line.shard,
                ctx.today,
                "settled",
                product_id,
                line.credit_line_id,
                payload=payload,
            )
        ],
    )
    notify(
        ctx.conn,
        [
            Notice(
                borrower_id,
                line.shard,
                ctx.today,
                "settled",
                payload,
                product_id,
                line.credit_line_id,
            )
        ],
    )
    return {"status": CLOSED, "amount": amount, "recovered": recovered}
