"""APR disclosure: 12 × the monthly IRR of a loan's cash flows (DOMAIN §2).

The regulator's number includes every fee, so it is computed from the same
schedules servicing will bill, not from the headline rate. The solver is a
Decimal bisection: slower than Newton in floats, but deterministic to the last
digit on every platform, which a disclosed, capped figure must be.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from crossline.catalog.models import Product
from crossline.servicing.schedules import (
    Method,
    ScheduledInstallment,
    bill_installment_schedule,
    cash_loan_schedule,
    merchant_installment_schedule,
)

Plan = Literal[
    "equal_principal",
    "equal_installment",
    "interest_first",
    "merchant_installment",
    "bill_installment",
    "revolving_interest",
]

NOTIONAL_PRINCIPAL = 1_000_000
"""10,000.00 yuan: large enough that fen rounding cannot move the APR's 4th decimal much."""

DISCLOSURE_STARTS = tuple(date(2026, month, 1) for month in range(1, 13))
"""Actual-day interest depends on the months crossed; the disclosure takes the worst start."""

APR_QUANTUM = Decimal("0.0001")
_TOLERANCE = Decimal("1e-12")
_PRECISION = 40
_MONTHS_PER_YEAR = 12
_DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True)
class OfferApr:
    """The worst-case APR of one offer of a product at its highest price."""

    product: str
    term_months: int
    method: Method | None
    rate: Decimal
    apr: Decimal
    plan: Plan

    def describe(self) -> str:
        """How the offer is named in a refusal: 'term 3 months (equal_installment)'."""
        unit = "month" if self.term_months == 1 else "months"
        return f"term {self.term_months} {unit} ({self.plan})"


def monthly_irr(principal: int, payments: list[int]) -> Decimal:
    """The monthly rate i with principal = Σ payments[k] / (1+i)^(k+1), to 1e-12.

    The present value falls strictly as i grows (payments are non-negative), so
    bisection on [0, hi] always converges; a loss-making flow (payments below
    the principal) has no meaning as a price and is refused.
    """
    _check_flows(principal, payments)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        low, high = Decimal(0), Decimal(1)
        while _excess_value(high, principal, payments) > 0:
            low, high = high, high * 2
        while high - low > _TOLERANCE:
            middle = (low + high) / 2
            if _excess_value(middle, principal, payments) > 0:
                low = middle
            else:
                high = middle
        return (low + high) / 2


def apr_from_cash_flows(principal: int, payments: list[int]) -> Decimal:
    """12 × monthly IRR, half-up to 4 decimals (0.1800 = 18.00%), payments[k] at month k+1."""
    irr = monthly_irr(principal, payments)
    return (irr * _MONTHS_PER_YEAR).quantize(APR_QUANTUM, rounding=ROUND_HALF_UP)


def schedule_apr(principal: int, schedule: list[ScheduledInstallment]) -> Decimal:
    """The APR of a schedule: everything the borrower pays on each due date counts."""
    return apr_from_cash_flows(principal, [row.amount for row in schedule])


def offer_aprs(product: Product, rate: Decimal | None = None) -> list[OfferApr]:
    """Every offer of the product at its highest price (or at the tier ``rate``: a daily
    rate for cash loans, a monthly fee rate for installments), each at its worst start
    date."""
    return list(_offers(product, rate))


def tier_apr(product: Product, rate: Decimal | None) -> Decimal:
    """The highest APR a borrower can meet on a line priced at ``rate`` (the product's
    own prices for a revolving line): what an approval shows.

    Solving every term and method costs ~10 ms and the answer depends only on the
    product's terms and the rate, so it is kept per (product, rate).
    """
    return _tier_apr(product.model_dump_json(exclude_unset=True), rate)


@functools.lru_cache(maxsize=256)
def _tier_apr(product_json: str, rate: Decimal | None) -> Decimal:
    product = Product.model_validate_json(product_json)
    return max(offer.apr for offer in offer_aprs(product, rate))


def highest_apr(product: Product) -> OfferApr:
    """The offer the cap is checked against: the product's most expensive one."""
    return max(offer_aprs(product), key=lambda offer: offer.apr)


def format_percent(rate: Decimal) -> str:
    """0.2520 → '25.20%', the form a borrower reads."""
    return f"{(rate * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def _offers(product: Product, rate: Decimal | None) -> Iterator[OfferApr]:
    if product.kind == "cash_loan":
        yield from _cash_loan_offers(product, rate or product.daily_rate_range()[1])
    elif product.kind == "installment":
        yield from _installment_offers(product, rate or product.monthly_fee_rate_range()[1])
    else:
        yield from _revolving_offers(product)


def _cash_loan_offers(product: Product, rate: Decimal) -> Iterator[OfferApr]:
    for term in product.terms:
        for method in product.methods:
            apr = max(
                schedule_apr(
                    NOTIONAL_PRINCIPAL,
                    cash_loan_schedule(NOTIONAL_PRINCIPAL, rate, term, method, start),
                )
                for start in DISCLOSURE_STARTS
            )
            yield OfferApr(product.id, term, method, rate, apr, method)


def _installment_offers(product: Product, rate: Decimal) -> Iterator[OfferApr]:
    """Flat monthly fees on monthly periods: the start date cannot change the APR."""
    for term in product.terms:
        schedule = merchant_installment_schedule(
            NOTIONAL_PRINCIPAL, rate, term, DISCLOSURE_STARTS[0]
        )
        apr = schedule_apr(NOTIONAL_PRINCIPAL, schedule)
        yield OfferApr(product.id, term, None, rate, apr, "merchant_installment")


def _revolving_offers(product: Product) -> Iterator[OfferApr]:
    """Revolving interest as one 30-day month, then each bill-installment option."""
    daily = product.revolving_daily_rate
    if daily is not None:
        monthly = daily * _DAYS_PER_MONTH
        apr = (monthly * _MONTHS_PER_YEAR).quantize(APR_QUANTUM, rounding=ROUND_HALF_UP)
        yield OfferApr(product.id, 1, None, daily, apr, "revolving_interest")
    for option in product.bill_installments:
        schedule = bill_installment_schedule(
            NOTIONAL_PRINCIPAL, option.fee_rate, option.months, DISCLOSURE_STARTS[0]
        )
        apr = schedule_apr(NOTIONAL_PRINCIPAL, schedule)
        yield OfferApr(product.id, option.months, None, option.fee_rate, apr, "bill_installment")


def _excess_value(rate: Decimal, principal: int, payments: list[int]) -> Decimal:
    """Present value of the payments at ``rate`` minus the principal (Horner form)."""
    discount = 1 / (1 + rate)
    total = Decimal(0)
    for payment in reversed(payments):
        total = (total + payment) * discount
    return total - principal


def _check_flows(principal: int, payments: list[int]) -> None:
    if principal <= 0:
        raise ValueError(f"principal: expected a positive amount of fen, got {principal}")
    if not payments:
        raise ValueError("payments: expected at least one payment")
    if any(p < 0 for p in payments):
        raise ValueError(f"payments: expected non-negative amounts, got {payments}")
    if sum(payments) < principal:
        raise ValueError(
            f"payments: they total {sum(payments)} fen, less than the principal {principal}; "
            "an APR is only disclosed for flows that repay the principal"
        )
