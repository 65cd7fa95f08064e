"""Settlement: the borrower pays everything owed on a line and the account is closed.

The payment is the payoff ``repay all`` takes (due rows, interest accrued to
today, principal not yet due, and what a write-off left to recover), so a
settlement can never differ from paying everything and then closing. A
closed line is reported settled (C) at the next month end, a written-off one
too: the bad-debt months stay in its history and the delinquency ends on the
settlement day, which starts the 5-year retention of those records
(DOMAIN §3, ``bureau.reporting``).

A negotiated settlement names the amount the borrower pays and why the rest is
forgiven: penalty, then interest, are waived (``servicing.waivers``, so each
waiver is recorded and posted as any other) until the payoff is that amount.
Principal and fees are never forgiven this way, and what a write-off left to
recover is not waived either: a written-off line settles in full.

A revolving line may hold a credit balance (an overpayment the next spending
would have used); closing the line ends that use, so the settlement pays it
back to the borrower in the same transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Leg, post_entries
from crossline.money import format_fen
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import Line, get_line, line_entry
from crossline.servicing.recoveries import open_recovery
from crossline.servicing.repayment import RepaymentResult, load_book, owed, payoff_fen, repay
from crossline.servicing.waivers import waive
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


def _payoff(ctx: Context, line: Line) -> int:
    """What ``repay all`` would take now."""
    book = load_book(ctx, line)
    return payoff_fen(book) + open_recovery(ctx, line, book.product.waterfall).owed_fen()


def _waive_rest(ctx: Context, line: Line, amount: int, reason: str, by: str) -> None:
    """Waive penalty, then interest, until the payoff is ``amount``; refuse if it cannot be."""
    payoff = _payoff(ctx, line)
    if amount > payoff:
        raise RefusedError(
            "exceeds_payoff",
            f"amount: {format_fen(amount)} exceeds everything owed ({format_fen(payoff)})",
        )
    for component in ("penalty", "interest"):
        waivable = sum(owed(r, component) for r in load_book(ctx, line).rows)
        rest = min(payoff - amount, waivable)
        if rest > 0:
            waive(ctx, line.borrower_id, line.product, component, rest, reason, by)
            payoff = _payoff(ctx, line)
    if payoff != amount:
        raise RefusedError(
            "below_settlement_floor",
            f"amount: {format_fen(amount)} is less than the line can settle for "
            f"({format_fen(payoff)}: principal, fees and what a write-off left are not waived)",
        )


def _refund_credit(ctx: Context, line: Line) -> int:
    """Pay a revolving line's credit balance back to the borrower (debit the liability,
    credit settlement); returns the amount, 0 when there is none."""
    held = ctx.conn.execute(
        sa.select(loans.c.loan_id, loans.c.credit_fen).where(
            loans.c.credit_line_id == line.credit_line_id, loans.c.credit_fen > 0
        )
    ).all()
    entries = [
        line_entry(
            ctx,
            line,
            "credit_refund",
            loan_id,
            (Leg(Account.BORROWER_CREDIT, credit), Leg(Account.SETTLEMENT, -credit)),
        )
        for loan_id, credit in held
    ]
    if not entries:
        return 0
    post_entries(ctx.conn, entries)
    ctx.conn.execute(
        sa.update(loans)
        .where(loans.c.loan_id.in_([loan_id for loan_id, _ in held]))
        .values(credit_fen=0)
    )
    return sum(int(credit) for _, credit in held)


def settle(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    amount: int | None = None,
    waive_rest_reason: str | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Pay off the borrower's line for ``product_id`` and close it; with ``amount`` and
    ``waive_rest_reason``, a negotiated settlement that waives what ``amount`` leaves."""
    if (amount is None) != (waive_rest_reason is None):
        raise InputError(
            "waive_rest_reason",
            "a negotiated settlement names both the amount paid and why the rest is waived",
        )
    line = get_line(ctx, borrower_id, product_id)
    if line.status == CLOSED:
        raise RefusedError("line_closed", f"the {product_id} line is already closed")
    if amount is not None and waive_rest_reason is not None:
        _waive_rest(ctx, line, amount, waive_rest_reason, by or "")
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
    refunded = _refund_credit(ctx, line)
    payload = {
        "amount": format_fen(paid.amount_fen if paid is not None else 0),
        "recovered": format_fen(paid.recovered_fen if paid is not None else 0),
        "refunded": format_fen(refunded),
    }
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
    return {"status": CLOSED} | payload
