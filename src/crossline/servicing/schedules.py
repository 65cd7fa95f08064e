"""Repayment schedules: cash loans, merchant installments and bill installments.

Every figure is an integer of fen and every rounding is the one DOMAIN §2 names,
so that a schedule shown to the borrower, the APR disclosed for it and the
postings made from it agree to the fen. Principal is always split so that it
sums exactly to the amount lent: rounding may move a fen between installments,
never create or lose one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Literal, get_args

from crossline.calendar import add_months, days_between
from crossline.money import accrue, half_up, parse_rate, rate_units

Method = Literal["equal_principal", "equal_installment", "interest_first"]
METHODS: tuple[Method, ...] = get_args(Method)

DAYS_PER_PERIOD = 30
"""equal_installment prices every period as 30 days (DOMAIN §2: r = daily rate × 30)."""

_PRECISION = 40
"""Digits for the annuity factor: (1+r)^-n for n ≤ 360 stays exact far below the fen."""


@dataclass(frozen=True, slots=True)
class ScheduledInstallment:
    """One installment as contracted; amounts in fen."""

    seq: int
    due_date: date
    principal: int
    interest: int
    fee: int

    @property
    def amount(self) -> int:
        """What the borrower owes on the due date, the figure APR cash flows are made of."""
        return self.principal + self.interest + self.fee


def due_dates(start: date, months: int) -> list[date]:
    """Due dates keep the disbursement day-of-month, clamped to short months.

    Each date is computed from ``start`` (not from the previous due date) so a
    31 January loan falls due on 28 February and then again on 31 March.
    """
    if months < 0:
        raise ValueError(f"months: expected a non-negative number of months, got {months}")
    return [add_months(start, k) for k in range(1, months + 1)]


def cash_loan_schedule(
    principal: int, daily_rate: Decimal, term_months: int, method: Method, start: date
) -> list[ScheduledInstallment]:
    """The contractual schedule of a cash loan disbursed on ``start`` (DOMAIN §2)."""
    _check_principal(principal)
    _check_term(term_months, "term_months")
    rate = parse_rate(daily_rate, field="daily_rate")
    _check_method(method)
    dates = due_dates(start, term_months)
    if method == "equal_installment":
        return _annuity_schedule(principal, rate * DAYS_PER_PERIOD, dates)
    if method == "equal_principal":
        parts = split_evenly(principal, term_months)
    else:
        parts = [0] * (term_months - 1) + [principal]
    return _actual_day_schedule(principal, rate, start, dates, parts)


def merchant_installment_schedule(
    principal: int, monthly_fee_rate: Decimal, months: int, start: date
) -> list[ScheduledInstallment]:
    """A Fenqile-like plan: the fee is flat on the original principal, so it never shrinks.

    That flatness is why the APR of such a plan is nearly twice its monthly fee
    rate × 12, and why the catalog must check it against the cap.
    """
    _check_principal(principal)
    _check_term(months, "months")
    rate = parse_rate(monthly_fee_rate, field="monthly_fee_rate")
    fee = half_up(Decimal(principal) * rate)
    parts = split_evenly(principal, months)
    dates = due_dates(start, months)
    return [
        ScheduledInstallment(k, due, part, 0, fee)
        for k, (due, part) in enumerate(zip(dates, parts, strict=True), start=1)
    ]


def bill_installment_schedule(
    principal: int, total_fee_rate: Decimal, months: int, first_due: date
) -> list[ScheduledInstallment]:
    """A Huabei-like bill installment: one total fee, rounded once, spread evenly.

    Rounding the total once (rather than each month's share) keeps the fee the
    borrower agreed to exactly equal to what is charged over the plan.
    """
    _check_principal(principal)
    _check_term(months, "months")
    rate = parse_rate(total_fee_rate, field="total_fee_rate")
    fees = split_evenly(half_up(Decimal(principal) * rate), months)
    parts = split_evenly(principal, months)
    return [
        ScheduledInstallment(k, add_months(first_due, k - 1), part, 0, fee)
        for k, (part, fee) in enumerate(zip(parts, fees, strict=True), start=1)
    ]


def split_evenly(total: int, parts: int) -> list[int]:
    """``total // parts`` each, the last takes the remainder, so the sum is exact."""
    share = total // parts
    return [share] * (parts - 1) + [total - share * (parts - 1)]


def level_payment(principal: int, periodic_rate: Decimal, periods: int) -> int:
    """The equal_installment payment A = P·r / (1 − (1+r)^−n), half-up to the fen.

    At r = 0 the formula's limit P / n is used, so a zero-rate promotion still
    gets a level schedule instead of a division by zero.
    """
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if periodic_rate == 0:
            return half_up(Decimal(principal) / periods)
        factor = 1 - (1 + periodic_rate) ** -periods
        return half_up(Decimal(principal) * periodic_rate / factor)


def _annuity_schedule(
    principal: int, periodic_rate: Decimal, dates: list[date]
) -> list[ScheduledInstallment]:
    """equal_installment: interest on the outstanding at r, principal is what A leaves.

    Principal is capped at the outstanding: for a principal of a few fen, A
    rounded up could otherwise repay more than was lent before the last period.
    """
    payment = level_payment(principal, periodic_rate, len(dates))
    outstanding = principal
    rows: list[ScheduledInstallment] = []
    for seq, due in enumerate(dates, start=1):
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            interest = half_up(Decimal(outstanding) * periodic_rate)
        part = outstanding if seq == len(dates) else min(payment - interest, outstanding)
        rows.append(ScheduledInstallment(seq, due, part, interest, 0))
        outstanding -= part
    return rows


def _actual_day_schedule(
    principal: int, daily_rate: Decimal, start: date, dates: list[date], parts: list[int]
) -> list[ScheduledInstallment]:
    """Simple interest for the actual days of each period on the principal not yet due.

    Uses ``money.accrue`` (integer, half-up) so the schedule matches the daily
    accrual kernels that will later charge the same interest.
    """
    units = rate_units(daily_rate)
    outstanding = principal
    previous = start
    rows: list[ScheduledInstallment] = []
    for seq, (due, part) in enumerate(zip(dates, parts, strict=True), start=1):
        interest = accrue(outstanding, units, days_between(previous, due))
        rows.append(ScheduledInstallment(seq, due, part, interest, 0))
        outstanding -= part
        previous = due
    return rows


def _check_principal(principal: int) -> None:
    if isinstance(principal, bool) or not isinstance(principal, int) or principal <= 0:
        raise ValueError(f"principal: expected a positive integer of fen, got {principal!r}")


def _check_term(term: int, field: str) -> None:
    if isinstance(term, bool) or not isinstance(term, int) or term < 1:
        raise ValueError(f"{field}: expected a whole number of months ≥ 1, got {term!r}")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
