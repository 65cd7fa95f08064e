"""New credit: cash-loan draws and installment purchases.

Each booking is one loan row, its installments, one disbursement posting and
a ``loan_opened`` event, written together or not at all. The amount is checked
against what the line has available first, so a refused draw writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from crossline.catalog import CatalogError, Product, schedule_apr
from crossline.events.outbox import Event, emit
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Leg, post_entries
from crossline.money import format_fen, rate_units, units_to_rate
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import (
    Line,
    available_fen,
    catalog_product,
    get_line,
    line_entry,
    require_active,
)
from crossline.servicing.schedules import (
    Method,
    ScheduledInstallment,
    cash_loan_schedule,
    merchant_installment_schedule,
)
from crossline.store.schema import installments, loans


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """How a booked loan accrues and ages; copied onto the loan so later catalog edits
    never change a contract already signed."""

    kind: str
    method: str | None
    term_months: int | None
    daily_rate_units: int | None
    penalty_rate_units: int
    penalty_base: str
    grace_days: int
    fee_rate: Decimal | None = None
    merchant: str | None = None


def check_amount(ctx: Context, line: Line, amount_fen: int) -> None:
    if amount_fen <= 0:
        raise InputError("amount", "expected a positive amount")
    require_active(line)
    available = available_fen(ctx, line)
    if amount_fen > available:
        raise RefusedError(
            "insufficient_limit",
            f"amount {format_fen(amount_fen)} exceeds the available limit {format_fen(available)}",
        )


def book_loan(
    ctx: Context,
    line: Line,
    principal_fen: int,
    schedule: list[ScheduledInstallment],
    terms: LoanTerms,
    funding: Account = Account.SETTLEMENT,
    event: str | None = None,
) -> int:
    """Write the loan, its schedule, the disbursement and the event; return the loan id.

    ``funding`` is the account the principal comes from: the settlement account
    for new money, the conversion clearing account when a bill is converted or a
    plan takes over a line (``event`` names that entry: ``plan_transfer``).
    """
    apr = schedule_apr(principal_fen, schedule)
    loan_id = int(
        ctx.conn.execute(
            sa.insert(loans)
            .values(
                borrower_id=line.borrower_id,
                shard=line.shard,
                credit_line_id=line.credit_line_id,
                product=line.product,
                kind=terms.kind,
                principal_fen=principal_fen,
                method=terms.method,
                term_months=terms.term_months,
                daily_rate_units=terms.daily_rate_units,
                penalty_rate_units=terms.penalty_rate_units,
                penalty_base=terms.penalty_base,
                grace_days=terms.grace_days,
                fee_rate=None if terms.fee_rate is None else str(terms.fee_rate),
                apr=str(apr),
                merchant=terms.merchant,
                opened_on=ctx.today,
                status="active",
            )
            .returning(loans.c.loan_id)
        ).scalar_one()
    )
    ctx.conn.execute(
        sa.insert(installments),
        [
            {
                "borrower_id": line.borrower_id,
                "shard": line.shard,
                "loan_id": loan_id,
                "seq": row.seq,
                "due_date": row.due_date,
                "principal_fen": row.principal,
                "interest_fen": row.interest,
                "fee_fen": row.fee,
                "status": "open",
            }
            for row in schedule
        ],
    )
    post_entries(
        ctx.conn,
        [
            line_entry(
                ctx,
                line,
                event or ("disbursement" if funding == Account.SETTLEMENT else "bill_conversion"),
                loan_id,
                (
                    Leg(Account.LOAN_PRINCIPAL, principal_fen),
                    Leg(funding, -principal_fen),
                ),
            )
        ],
    )
    emit(
        ctx.conn,
        [
            Event(
                line.borrower_id,
                line.shard,
                ctx.today,
                "loan_opened",
                line.product,
                line.credit_line_id,
                loan_id,
                {"principal": format_fen(principal_fen), "apr": str(apr), "kind": terms.kind},
            )
        ],
    )
    return loan_id


def draw(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    amount_fen: int,
    term_months: int,
    method: str,
) -> int:
    """Disburse a cash loan on the line at the line's daily rate."""
    product = catalog_product(ctx, product_id)
    if product.kind != "cash_loan":
        raise InputError("product", f"{product_id!r} is a {product.kind} product, not a cash loan")
    line = get_line(ctx, borrower_id, product_id)
    if line.daily_rate_units is None:  # pragma: no cover - set when a cash line is opened
        raise RefusedError("no_price", f"the {product_id} line has no daily rate")
    rate = units_to_rate(line.daily_rate_units)
    try:
        product.check_cash_loan(term_months, method, rate)
    except CatalogError as exc:
        field = "term_months" if "term" in str(exc) else "method"
        raise InputError(field, str(exc)) from exc
    check_amount(ctx, line, amount_fen)
    typed_method: Method = method  # type: ignore[assignment]
    schedule = cash_loan_schedule(amount_fen, rate, term_months, typed_method, ctx.today)
    terms = LoanTerms(
        kind="cash_loan",
        method=method,
        term_months=term_months,
        daily_rate_units=line.daily_rate_units,
        penalty_rate_units=rate_units(product.penalty_daily_rate(rate)),
        penalty_base="principal",
        grace_days=product.grace_days,
    )
    return book_loan(ctx, line, amount_fen, schedule, terms)


def purchase_installments(
    ctx: Context,
    product: Product,
    line: Line,
    amount_fen: int,
    months: int,
    monthly_fee_rate: Decimal | None,
    merchant: str | None,
) -> int:
    """A merchant installment plan: flat monthly fee on the purchase amount."""
    if line.monthly_fee_rate_units is None:  # pragma: no cover - set when the line is opened
        raise RefusedError("no_price", f"the {product.id} line has no fee rate")
    fee_rate = (
        units_to_rate(line.monthly_fee_rate_units) if monthly_fee_rate is None else monthly_fee_rate
    )
    try:
        product.check_installment(months, fee_rate)
    except CatalogError as exc:
        field = "installments" if "term" in str(exc) else "monthly_fee_rate"
        raise InputError(field, str(exc)) from exc
    check_amount(ctx, line, amount_fen)
    schedule = merchant_installment_schedule(amount_fen, fee_rate, months, ctx.today)
    terms = LoanTerms(
        kind="installment",
        method=None,
        term_months=months,
        daily_rate_units=None,
        penalty_rate_units=rate_units(product.penalty_daily_rate()),
        penalty_base="installment",
        grace_days=product.grace_days,
        fee_rate=fee_rate,
        merchant=merchant,
    )
    return book_loan(ctx, line, amount_fen, schedule, terms)
