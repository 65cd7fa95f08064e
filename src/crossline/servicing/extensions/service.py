"""展期: request an extension (an offer is stored and shown), accept it (the loan is
rescheduled and the fee booked).

The loan stays current throughout: the installments already scheduled keep their due
dates, the remaining principal is spread over them and the extended months, and the
final due date moves out. Nothing of this is written when a request is refused.
"""

from __future__ import annotations

import json
from typing import Any

from crossline.catalog import Product
from crossline.catalog.apr import format_percent
from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Leg, post_entries
from crossline.money import format_fen
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.extensions import records
from crossline.servicing.extensions.terms import Offer, Pricing, Row, plan_extension
from crossline.servicing.lines import Line, catalog_product, get_line, line_entry

OFFERED_KIND = "extension_offered"
APPROVED_KIND = "extension_approved"


def request_extension(
    ctx: Context, borrower_id: str, product_id: str, months: int, loan_id: int | None = None
) -> dict[str, Any]:
    """Offer to extend the line's loan by ``months``: its terms are kept and shown,
    nothing of the loan changes until the offer is accepted."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise InputError("months", f"expected a whole number of months ≥ 1, got {months!r}")
    product = catalog_product(ctx, product_id)
    line = get_line(ctx, borrower_id, product_id)
    loan = records.extendable_loan(ctx, line, loan_id)
    offer = _plan(ctx, product, loan, months)
    stored = records.store_offer(ctx, line, offer, product.extension_offer_days)
    answer = _describe(offer) | {
        "extension_id": stored["extension_id"],
        "expires_on": stored["expires_on"].isoformat(),
    }
    _announce(ctx, line, offer, "extension_offered", OFFERED_KIND, answer)
    return answer


def accept_extension(ctx: Context, borrower_id: str, product_id: str) -> dict[str, Any] | None:
    """Accept the line's pending extension offer; None when there is none.

    The terms are derived again from the book as it is now and must equal those
    offered: a payment or a due date in between changes the schedule, and the
    borrower must then see (request) the new terms before agreeing to them.
    """
    product = catalog_product(ctx, product_id)
    line = get_line(ctx, borrower_id, product_id)
    pending = records.pending_offer(ctx, line)
    if pending is None:
        return None
    stale = RefusedError(
        "offer_stale",
        f"the extension offered on {pending['offered_on']} no longer matches loan "
        f"{pending['loan_id']} (a payment or a due date since); request a new extension",
    )
    try:
        loan = records.extendable_loan(ctx, line, int(pending["loan_id"]))
        offer = _plan(ctx, product, loan, int(pending["months"]))
    except InputError as exc:  # the loan was paid off or written off since
        raise stale from exc
    if offer.fee_fen != pending["fee_fen"] or offer.schedule() != json.loads(pending["schedule"]):
        raise stale
    records.reschedule_rows(ctx, line, offer)
    records.mark_accepted(ctx, int(pending["extension_id"]))
    answer = _describe(offer) | {"extension_id": int(pending["extension_id"])}
    # Numbered last, as repayment does: journal and event counters are held until commit.
    if offer.fee_fen:
        fee = offer.fee_fen
        legs = (Leg(Account.FEE_RECEIVABLE, fee), Leg(Account.FEE_INCOME, -fee))
        post_entries(ctx.conn, [line_entry(ctx, line, "extension_fee", offer.loan_id, legs)])
    _announce(ctx, line, offer, "loan_extended", APPROVED_KIND, answer)
    return answer


def _plan(ctx: Context, product: Product, loan: Row, months: int) -> Offer:
    loan_id = int(loan["loan_id"])
    pricing = Pricing(product.extension_fee_rate, ctx.catalog.apr_cap)
    return plan_extension(
        loan,
        records.open_rows(ctx, loan_id),
        ctx.today,
        months,
        records.months_extended(ctx, loan_id),
        pricing,
        records.last_prepayment(ctx, loan_id),
    )


def _describe(offer: Offer) -> dict[str, Any]:
    """The terms as the borrower reads them: money as strings, the APR with the fee."""
    return {
        "loan_id": offer.loan_id,
        "months": offer.months,
        "outstanding": format_fen(offer.outstanding_fen),
        "fee": format_fen(offer.fee_fen),
        "apr": str(offer.apr),
        "old_maturity": offer.old_maturity.isoformat(),
        "new_maturity": offer.new_maturity.isoformat(),
        "schedule": offer.schedule(),
    }


def _announce(
    ctx: Context, line: Line, offer: Offer, event: str, kind: str, answer: dict[str, Any]
) -> None:
    """The outbox event and the borrower's notification (templates/<lang>/<kind>.txt)."""
    first = offer.rows[0]
    payload = {
        key: answer[key]
        for key in ("extension_id", "loan_id", "months", "outstanding", "fee", "apr")
        if key in answer
    } | {
        "apr_percent": format_percent(offer.apr),
        "old_maturity": offer.old_maturity.isoformat(),
        "new_maturity": offer.new_maturity.isoformat(),
        "next_due_date": first.due_date.isoformat(),
        "next_amount": format_fen(first.to_pay()),
    }
    if "expires_on" in answer:
        payload["expires_on"] = answer["expires_on"]
    emit(
        ctx.conn,
        [
            Event(
                line.borrower_id,
                line.shard,
                ctx.today,
                event,
                line.product,
                line.credit_line_id,
                offer.loan_id,
                payload,
            )
        ],
    )
    notify(
        ctx.conn,
        [
            Notice(
                line.borrower_id,
                line.shard,
                ctx.today,
                kind,
                payload,
                line.product,
                line.credit_line_id,
            )
        ],
    )
