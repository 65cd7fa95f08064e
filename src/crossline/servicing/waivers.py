"""Waivers: an operator forgives penalty, interest or fees owed on a line (issue 7).

A waived amount is not paid, it is no longer owed: the installment rows ask for
less (penalty, or interest and fees both as scheduled and as recognised, so
that the due-date recognition does not charge them again), oldest row first.
Reducing what the rows owe, rather than recording the waiver as a payment,
keeps every reader of the rows right without knowing about waivers: ageing,
statements, the repayment waterfall and ``ledger check``, whose sub-ledger is
what the rows owe and whose journal side falls by the same amount (debit
waiver expense, credit the component's receivable). Who granted it and why is
in the ``waivers`` table; the API's audit log records the request too.

Principal is never waived (that is a write-off or a settlement). On a
revolving line only what was posted can be waived: the overdue fee (penalty)
on billed rows, revolving interest charged, bill-installment fees; a charge
still held in grace is not owed yet. A waiver leaves the statements' minimums
as issued: the overdue fee accrues after the statement that fell overdue, so
its minimum never asked for it, and a minimum is 10% of a balance whose
principal cannot be waived, so what is left owing still covers it. A revolving
line stays late until the minimum is paid, as it would without the waiver; the
borrower's money then goes to principal instead of the fee. The exception is a
bill installment's fee, which a minimum holds in full: where waiving it leaves
an unmet minimum above everything still owed, the minimum is lowered to that
(``revolving.cap_unmet_minimums``), or the line could never be brought current.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import sqlalchemy as sa

from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit, write_events
from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT, Account
from crossline.ledger.journal import Leg, post_entries
from crossline.money import format_fen
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import get_line
from crossline.servicing.refresh import refresh_borrower
from crossline.servicing.repayment import RepaymentResult, close_settled, load_book, owed
from crossline.servicing.revolving import cap_unmet_minimums
from crossline.store.schema import waivers

WAIVABLE: tuple[str, ...] = ("penalty", "interest", "fee")
"""Components a waiver may forgive; principal is not one of them."""

MAX_REASON = 500

WaiverAmount = int | Literal["all"]


def _check_request(component: str, reason: str, by: str) -> str:
    """The reason, trimmed; refusals for what no line could make valid."""
    if component == "principal":
        raise RefusedError(
            "principal_not_waivable",
            "principal cannot be waived: only penalty, interest or fee",
        )
    if component not in WAIVABLE:
        raise InputError("component", f"expected one of {', '.join(WAIVABLE)}, got {component!r}")
    text = reason.strip()
    if not text:
        raise InputError("reason", "a waiver needs a reason")
    if len(text) > MAX_REASON:
        raise InputError("reason", f"expected at most {MAX_REASON} characters")
    if not by.strip():
        raise InputError("by", "a waiver needs the operator granting it")
    return text


def _reduce(row: dict[str, Any], component: str, amount: int) -> None:
    """The row asks for ``amount`` less of ``component``."""
    if component == "penalty":
        row["penalty_fen"] -= amount
        return
    row[f"{component}_fen"] -= amount
    row[f"{component}_recognised_fen"] -= amount


def waive(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    component: str,
    amount: WaiverAmount,
    reason: str,
    by: str,
) -> dict[str, Any]:
    """Forgive ``amount`` (or ``all``) of ``component`` owed on the line, granted by ``by``."""
    text = _check_request(component, reason, by)
    line = get_line(ctx, borrower_id, product_id)
    book = load_book(ctx, line)
    owed_fen = sum(owed(r, component) for r in book.rows)
    if owed_fen <= 0:
        raise RefusedError("nothing_owed", f"no {component} is owed on the {product_id} line")
    if amount == "all":
        amount = owed_fen
    elif amount <= 0:
        raise InputError("amount", "expected a positive amount or 'all'")
    elif amount > owed_fen:
        raise RefusedError(
            "exceeds_owed",
            f"amount: {format_fen(amount)} exceeds the {component} owed ({format_fen(owed_fen)})",
        )
    by_loan: dict[int, int] = defaultdict(int)
    left = amount
    for row in book.rows:
        take = min(left, owed(row, component))
        if take > 0:
            _reduce(row, component, take)
            book.touched.add(row["installment_id"])
            by_loan[row["loan_id"]] += take
            left -= take
    receivable = RECEIVABLE_BY_COMPONENT[component]
    for loan_id, waived in sorted(by_loan.items()):
        book.entry(
            "waiver", loan_id, (Leg(Account.WAIVER_EXPENSE, waived), Leg(receivable, -waived))
        )
    closed = RepaymentResult(amount_fen=0)
    paid_off = close_settled(book, closed)
    if line.kind == "revolving":
        cap_unmet_minimums(ctx, line)
    waiver_id = ctx.conn.execute(
        sa.insert(waivers)
        .values(
            borrower_id=borrower_id,
            shard=line.shard,
            credit_line_id=line.credit_line_id,
            business_date=ctx.today,
            component=component,
            amount_fen=amount,
            reason=text,
            granted_by=by.strip(),
        )
        .returning(waivers.c.waiver_id)
    ).scalar_one()
    aged = refresh_borrower(ctx, borrower_id)
    payload = {"component": component, "amount": format_fen(amount), "reason": text}
    granted = Event(
        borrower_id,
        line.shard,
        ctx.today,
        "waiver_granted",
        product_id,
        line.credit_line_id,
        payload=payload | {"waiver_id": int(waiver_id)},
    )
    post_entries(ctx.conn, book.entries)
    emit(ctx.conn, paid_off)
    write_events(ctx.conn, aged)
    emit(ctx.conn, [granted])
    notify(
        ctx.conn,
        [
            Notice(
                borrower_id,
                line.shard,
                ctx.today,
                "waiver_granted",
                payload,
                product_id,
                line.credit_line_id,
            )
        ],
    )
    return {
        "waiver_id": int(waiver_id),
        "component": component,
        "amount": format_fen(amount),
        "loans_paid_off": closed.loans_paid_off,
    }
