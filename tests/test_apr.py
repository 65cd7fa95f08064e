"""APR: 12 × monthly IRR, checked against exact roots and an independent float solver."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.catalog import apr_from_cash_flows, load_catalog, monthly_irr, offer_aprs
from crossline.catalog.apr import schedule_apr
from crossline.servicing.schedules import cash_loan_schedule


def _excess_value(rate: Fraction, principal: int, payments: list[int]) -> Fraction:
    """Exact present value minus principal, summed term by term (no Horner)."""
    return (
        sum((Fraction(p) / (1 + rate) ** (k + 1) for k, p in enumerate(payments)), Fraction(0))
        - principal
    )


def _newton_irr(principal: int, payments: list[int]) -> float:
    """An independent float Newton solver, good to ~1e-12 for well-behaved flows."""
    i = 0.01
    for _ in range(100):
        f = sum(p / (1 + i) ** (k + 1) for k, p in enumerate(payments)) - principal
        df = sum(-(k + 1) * p / (1 + i) ** (k + 2) for k, p in enumerate(payments))
        i -= f / df
    return i


def test_exact_roots() -> None:
    # 100.00 repaid by 101.00 after one month: i = 1% exactly → APR 12%.
    assert abs(monthly_irr(10000, [10100]) - Decimal("0.01")) <= Decimal("1e-12")
    assert apr_from_cash_flows(10000, [10100]) == Decimal("0.1200")
    # 100.00 repaid by 121.00 after two months: (1.1)^2 = 1.21 → i = 10% → APR 120%.
    assert abs(monthly_irr(10000, [0, 12100]) - Decimal("0.1")) <= Decimal("1e-12")
    assert apr_from_cash_flows(10000, [0, 12100]) == Decimal("1.2000")
    # No charge at all: APR 0.
    assert apr_from_cash_flows(30000, [10000, 10000, 10000]) == Decimal("0.0000")


def test_equal_installment_at_one_and_a_half_percent_a_month_is_18_percent() -> None:
    # daily 0.0005 × 30 = 1.5%/month; the annuity's IRR is its rate up to the fen rounding of A
    # and of the last installment, so APR = 12 × 1.5% = 18.00%.
    schedule = cash_loan_schedule(
        1000000, Decimal("0.0005"), 12, "equal_installment", date(2026, 1, 1)
    )
    assert schedule_apr(1000000, schedule) == Decimal("0.1800")


@settings(max_examples=100, deadline=None)
@given(
    principal=st.integers(min_value=1, max_value=10**8),
    extra=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=24),
)
def test_bisection_brackets_the_exact_root(principal: int, extra: list[int]) -> None:
    # Spread the principal evenly and add random charges, so the flows repay the principal.
    n = len(extra)
    payments = [principal // n + e for e in extra]
    payments[-1] += principal - (principal // n) * n
    irr = Fraction(monthly_irr(principal, payments))
    step = Fraction(2, 10**12)
    assert _excess_value(irr + step, principal, payments) <= 0
    if irr > step:
        assert _excess_value(irr - step, principal, payments) >= 0


def test_agrees_with_an_independent_newton_solver() -> None:
    # Fenqile-like: 10,000.00 over 3 months, 1% flat fee on the original principal.
    payments = [333333 + 10000, 333333 + 10000, 333334 + 10000]
    newton = 12 * _newton_irr(1000000, payments)
    assert abs(float(apr_from_cash_flows(1000000, payments)) - newton) < 0.00006


def test_refuses_flows_that_do_not_repay() -> None:
    with pytest.raises(ValueError, match="payments"):
        apr_from_cash_flows(10000, [5000])
    with pytest.raises(ValueError, match="payments"):
        apr_from_cash_flows(10000, [])
    with pytest.raises(ValueError, match="principal"):
        apr_from_cash_flows(0, [1])


def test_default_catalog_offers_are_within_the_cap() -> None:
    catalog = load_catalog()
    offers = [o for p in catalog.products for o in offer_aprs(p)]
    assert offers
    assert all(o.apr <= Decimal("0.24") for o in offers)
    by_key = {(o.product, o.plan, o.term_months): o for o in offers}
    # Huabei revolving: 0.05%/day × 30 × 12 = 18.00%.
    assert by_key[("huabei", "revolving_interest", 1)].apr == Decimal("0.1800")
    # Jiebei equal_installment at the top rate: 0.06%/day × 30 = 1.8%/month → 21.60%.
    for term in (3, 6, 12):
        assert by_key[("jiebei", "equal_installment", term)].apr == Decimal("0.2160")
    # interest_first uses actual days: some months have 31, so it is dearer than 30-day pricing
    # but below the all-31-day bound 0.0006 × 31 × 12 = 22.32%.
    for term in (3, 6, 12):
        apr = by_key[("jiebei", "interest_first", term)].apr
        assert Decimal("0.2160") < apr <= Decimal("0.2232")
    # Fenqile 3 months at 1% flat, against the float solver.
    newton = 12 * _newton_irr(1000000, [343333, 343333, 343334])
    assert abs(float(by_key[("fenqile", "merchant_installment", 3)].apr) - newton) < 0.00006
    # Every offer is stated at the product's highest price.
    assert by_key[("weilidai", "equal_principal", 5)].rate == Decimal("0.0005")
    assert by_key[("fenqile", "merchant_installment", 12)].rate == Decimal("0.010")


def test_cash_loan_disclosure_is_the_worst_start_date() -> None:
    # Weilidai 5 months equal_principal at 0.0005: the disclosed APR is the max over the
    # 1st of each month of 2026, so it is at least the APR of every single start.
    product = load_catalog().product("weilidai")
    disclosed = next(o for o in offer_aprs(product) if o.term_months == 5).apr
    aprs = [
        schedule_apr(
            1000000,
            cash_loan_schedule(1000000, Decimal("0.0005"), 5, "equal_principal", date(2026, m, 1)),
        )
        for m in range(1, 13)
    ]
    assert disclosed == max(aprs)
    assert len(set(aprs)) > 1  # day counts do move the figure
