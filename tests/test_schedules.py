"""Schedules: DOMAIN §2 conventions, checked against hand figures and exact rationals."""

from __future__ import annotations

import calendar
import itertools
import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.servicing.schedules import (
    METHODS,
    ScheduledInstallment,
    bill_installment_schedule,
    cash_loan_schedule,
    due_dates,
    merchant_installment_schedule,
)

PRINCIPALS = st.integers(min_value=1, max_value=10**9)
DAILY_RATES = st.integers(min_value=0, max_value=100).map(lambda k: Decimal(k).scaleb(-5))
TERMS = st.integers(min_value=1, max_value=36)
STARTS = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


def _half_up(value: Fraction) -> int:
    """Half-up for non-negative exact rationals, independent of money.half_up."""
    return math.floor(value + Fraction(1, 2))


def _expected_due(start: date, k: int) -> date:
    month_index = start.year * 12 + start.month - 1 + k
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def _level_payment(principal: int, r: Fraction, n: int) -> int:
    """A = P·r·(1+r)^n / ((1+r)^n − 1), exact, then half-up (P/n when r = 0)."""
    if r == 0:
        return _half_up(Fraction(principal, n))
    growth = (1 + r) ** n
    return _half_up(principal * r * growth / (growth - 1))


# --- the worked example of the brief / DOMAIN §2 ---------------------------------


def test_equal_principal_worked_example() -> None:
    # P = 6000.00, daily 0.0004, 5 months from 2026-03-01; principal 6000/5 = 1200.00 each.
    # Interest = outstanding × 0.0004 × days of the period:
    #   Mar 1 → Apr 1 31 d: 6000 × 0.0004 × 31 = 74.40
    #   Apr 1 → May 1 30 d: 4800 × 0.0004 × 30 = 57.60
    #   May 1 → Jun 1 31 d: 3600 × 0.0004 × 31 = 44.64
    #   Jun 1 → Jul 1 30 d: 2400 × 0.0004 × 30 = 28.80
    #   Jul 1 → Aug 1 31 d: 1200 × 0.0004 × 31 = 14.88
    rows = cash_loan_schedule(600000, Decimal("0.0004"), 5, "equal_principal", date(2026, 3, 1))
    assert rows[0] == ScheduledInstallment(1, date(2026, 4, 1), 120000, 7440, 0)
    assert [r.due_date for r in rows] == [date(2026, m, 1) for m in (4, 5, 6, 7, 8)]
    assert [r.principal for r in rows] == [120000] * 5
    assert [r.interest for r in rows] == [7440, 5760, 4464, 2880, 1488]


def test_equal_principal_remainder_goes_to_the_last_installment() -> None:
    # 1000.00 over 3: 333.33, 333.33, 333.34.
    rows = cash_loan_schedule(100000, Decimal("0"), 3, "equal_principal", date(2026, 1, 5))
    assert [r.principal for r in rows] == [33333, 33333, 33334]
    assert all(r.interest == 0 for r in rows)


def test_equal_installment_hand_computation() -> None:
    # P = 10000.00, daily 0.0005 → r = 0.015/month, n = 12.
    # (1.015)^12 = 1.195618171…; A = 10000 × 0.015 × 1.195618171 / 0.195618171 = 916.7999… → 916.80
    # k=1: interest 10000 × 0.015 = 150.00, principal 916.80 − 150.00 = 766.80
    # k=2: outstanding 9233.20, interest 138.498 → 138.50, principal 778.30
    # k=12 (same rules iterated by hand with exact fractions): outstanding 903.26,
    #      interest 13.5489 → 13.55, principal 903.26, payment 916.81 (1 fen above A).
    rows = cash_loan_schedule(
        1000000, Decimal("0.0005"), 12, "equal_installment", date(2026, 1, 15)
    )
    assert (rows[0].principal, rows[0].interest) == (76680, 15000)
    assert (rows[1].principal, rows[1].interest) == (77830, 13850)
    assert (rows[-1].principal, rows[-1].interest) == (90326, 1355)
    assert {r.principal + r.interest for r in rows[:-1]} == {91680}
    assert rows[-1].due_date == date(2027, 1, 15)


def test_equal_installment_tiny_principal_never_overpays() -> None:
    # 0.07 over 9 months at r = 0.0003: A = 7 × 0.0003 / (1 − 1.0003^−9) = 0.7788… fen → 1 fen;
    # interest rounds to 0, so 1 fen of principal a month clears the loan after 7 months and
    # the last two installments are empty rather than negative.
    rows = cash_loan_schedule(7, Decimal("0.00001"), 9, "equal_installment", date(2026, 1, 1))
    assert [r.principal for r in rows] == [1] * 7 + [0, 0]
    assert all(r.interest == 0 for r in rows)


def test_interest_first_pays_interest_then_all_principal() -> None:
    # 3000.00 at 0.0005 from 2026-01-10: 31 d (Jan 10 → Feb 10) = 46.50; 28 d = 42.00; 31 d = 46.50.
    rows = cash_loan_schedule(300000, Decimal("0.0005"), 3, "interest_first", date(2026, 1, 10))
    assert [r.principal for r in rows] == [0, 0, 300000]
    assert [r.interest for r in rows] == [4650, 4200, 4650]


def test_31_january_start_clamps_to_february_then_returns_to_31st() -> None:
    assert due_dates(date(2026, 1, 31), 4) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert due_dates(date(2028, 1, 31), 2) == [date(2028, 2, 29), date(2028, 3, 31)]
    # Periods are 28 d (Jan 31 → Feb 28) and 31 d (Feb 28 → Mar 31):
    # 2000.00 × 0.0005 × 28 = 28.00; 1000.00 × 0.0005 × 31 = 15.50.
    rows = cash_loan_schedule(200000, Decimal("0.0005"), 2, "equal_principal", date(2026, 1, 31))
    assert [r.interest for r in rows] == [2800, 1550]


def test_interest_is_rounded_half_up_to_the_fen() -> None:
    # 3.00 × 0.0005 × 30 d (Apr 10 → May 10) = 4.5 fen: half-up gives 5 (banker's or floor: 4).
    rows = cash_loan_schedule(300, Decimal("0.0005"), 1, "interest_first", date(2026, 4, 10))
    assert rows[0].interest == 5
    # 3.33 × 0.0005 × 30 d = 4.995 fen → 5; 3.32 × 0.0005 × 30 d = 4.98 fen → 5; 2.99 → 4.485 → 4.
    for principal, expected in ((333, 5), (332, 5), (299, 4)):
        rows = cash_loan_schedule(
            principal, Decimal("0.0005"), 1, "interest_first", date(2026, 4, 10)
        )
        assert rows[0].interest == expected


# --- properties over random loans -----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    principal=PRINCIPALS,
    daily_rate=DAILY_RATES,
    term=TERMS,
    start=STARTS,
    method=st.sampled_from(METHODS),
)
def test_cash_loan_schedule_invariants(
    principal: int, daily_rate: Decimal, term: int, start: date, method: str
) -> None:
    rows = cash_loan_schedule(principal, daily_rate, term, method, start)  # type: ignore[arg-type]
    assert len(rows) == term
    assert [r.seq for r in rows] == list(range(1, term + 1))
    assert sum(r.principal for r in rows) == principal
    assert all(r.principal >= 0 and r.interest >= 0 and r.fee == 0 for r in rows)
    dues = [r.due_date for r in rows]
    assert all(a < b for a, b in itertools.pairwise(dues))
    assert dues == [_expected_due(start, k) for k in range(1, term + 1)]


@settings(max_examples=200, deadline=None)
@given(principal=PRINCIPALS, daily_rate=DAILY_RATES, term=TERMS, start=STARTS)
def test_actual_day_interest_matches_exact_arithmetic(
    principal: int, daily_rate: Decimal, term: int, start: date
) -> None:
    rate = Fraction(daily_rate)
    for method in ("equal_principal", "interest_first"):
        rows = cash_loan_schedule(principal, daily_rate, term, method, start)
        outstanding, previous = principal, start
        for row in rows:
            days = (row.due_date - previous).days
            assert row.interest == _half_up(outstanding * rate * days)
            outstanding -= row.principal
            previous = row.due_date
    first_principal = cash_loan_schedule(principal, daily_rate, term, "interest_first", start)
    assert [r.principal for r in first_principal] == [0] * (term - 1) + [principal]


@settings(max_examples=200, deadline=None)
@given(principal=PRINCIPALS, daily_rate=DAILY_RATES, term=TERMS, start=STARTS)
def test_equal_installment_payments_are_level(
    principal: int, daily_rate: Decimal, term: int, start: date
) -> None:
    payment = _level_payment(principal, Fraction(daily_rate) * 30, term)
    rows = cash_loan_schedule(principal, daily_rate, term, "equal_installment", start)
    outstanding = principal
    for row in rows[:-1]:
        outstanding -= row.principal
        if outstanding > 0:
            assert row.principal + row.interest == payment
        else:  # a principal of a few fen can be used up before the last period
            assert row.principal + row.interest <= payment


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(min_value=10_000, max_value=10**9),
    daily_rate=DAILY_RATES,
    term=TERMS,
)
def test_equal_installment_is_strictly_level_for_real_amounts(
    principal: int, daily_rate: Decimal, term: int
) -> None:
    payment = _level_payment(principal, Fraction(daily_rate) * 30, term)
    rows = cash_loan_schedule(principal, daily_rate, term, "equal_installment", date(2026, 1, 1))
    assert {r.principal + r.interest for r in rows[:-1]} <= {payment}
    assert all(r.principal > 0 for r in rows)


# --- merchant and bill installments ---------------------------------------------


FEE_RATES = st.integers(min_value=0, max_value=2000).map(lambda k: Decimal(k).scaleb(-5))


@settings(max_examples=200, deadline=None)
@given(principal=PRINCIPALS, fee_rate=FEE_RATES, months=TERMS, start=STARTS)
def test_merchant_installment_sums(
    principal: int, fee_rate: Decimal, months: int, start: date
) -> None:
    rows = merchant_installment_schedule(principal, fee_rate, months, start)
    monthly_fee = _half_up(principal * Fraction(fee_rate))
    assert sum(r.principal for r in rows) == principal
    assert [r.principal for r in rows[:-1]] == [principal // months] * (months - 1)
    assert sum(r.fee for r in rows) == months * monthly_fee
    assert all(r.interest == 0 for r in rows)
    assert [r.due_date for r in rows] == [_expected_due(start, k) for k in range(1, months + 1)]


@settings(max_examples=200, deadline=None)
@given(principal=PRINCIPALS, fee_rate=FEE_RATES, months=TERMS, first_due=STARTS)
def test_bill_installment_sums(
    principal: int, fee_rate: Decimal, months: int, first_due: date
) -> None:
    rows = bill_installment_schedule(principal, fee_rate, months, first_due)
    total_fee = _half_up(principal * Fraction(fee_rate))
    assert sum(r.fee for r in rows) == total_fee
    assert [r.fee for r in rows[:-1]] == [total_fee // months] * (months - 1)
    assert sum(r.principal for r in rows) == principal
    assert all(r.interest == 0 for r in rows)
    assert [r.due_date for r in rows] == [_expected_due(first_due, k) for k in range(months)]


def test_merchant_installment_example() -> None:
    # 1000.00 over 3 months at 1% flat: fee 10.00 each month on the original principal.
    rows = merchant_installment_schedule(100000, Decimal("0.01"), 3, date(2026, 1, 20))
    assert [(r.principal, r.fee) for r in rows] == [(33333, 1000), (33333, 1000), (33334, 1000)]


def test_bill_installment_example() -> None:
    # 1000.01 over 3 months at 2.5% total: fee 25.00025 → 25.00; 8.33, 8.33, 8.34.
    rows = bill_installment_schedule(100001, Decimal("0.025"), 3, date(2026, 2, 10))
    assert [r.fee for r in rows] == [833, 833, 834]
    assert [r.principal for r in rows] == [33333, 33333, 33335]
    assert [r.due_date for r in rows] == [date(2026, 2, 10), date(2026, 3, 10), date(2026, 4, 10)]


# --- input validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal": 0}, "principal"),
        ({"principal": -5}, "principal"),
        ({"term_months": 0}, "term_months"),
        ({"daily_rate": Decimal("-0.0001")}, "daily_rate"),
        ({"daily_rate": Decimal("0.00000000001")}, "daily_rate"),
        ({"method": "balloon"}, "method"),
    ],
)
def test_cash_loan_inputs_are_validated(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "principal": 100000,
        "daily_rate": Decimal("0.0005"),
        "term_months": 3,
        "method": "equal_principal",
        "start": date(2026, 1, 1),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        cash_loan_schedule(**args)  # type: ignore[arg-type]


def test_installment_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="months"):
        merchant_installment_schedule(100, Decimal("0.01"), 0, date(2026, 1, 1))
    with pytest.raises(ValueError, match="monthly_fee_rate"):
        merchant_installment_schedule(100, Decimal("-0.01"), 3, date(2026, 1, 1))
    with pytest.raises(ValueError, match="principal"):
        bill_installment_schedule(0, Decimal("0.025"), 3, date(2026, 1, 1))
    with pytest.raises(ValueError, match="total_fee_rate"):
        bill_installment_schedule(100, Decimal("-1"), 3, date(2026, 1, 1))
