"""Recomputing a schedule after a prepayment, keeping the term (DOMAIN §2).

Interest is due only to the prepayment date; the principal left is spread
again over the installments that remain, by the loan's own method, and the
current installment's interest becomes what was already recognised plus the
new principal's interest for the rest of its period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from crossline.calendar import days_between
from crossline.money import accrue, half_up
from crossline.servicing.schedules import DAYS_PER_PERIOD, level_payment, split_evenly


@dataclass(frozen=True, slots=True)
class Reshaped:
    """New principal share and interest of one remaining installment."""

    principal: int
    interest: int


def principal_shares(
    outstanding: int, method: str, periodic_rate: Decimal, count: int
) -> list[int]:
    """How the outstanding principal is spread over ``count`` remaining installments."""
    if outstanding == 0:
        return [0] * count
    if method == "interest_first":
        return [0] * (count - 1) + [outstanding]
    if method != "equal_installment":
        return split_evenly(outstanding, count)
    payment = level_payment(outstanding, periodic_rate, count)
    shares, left = [], outstanding
    for index in range(count):
        with localcontext() as ctx:
            ctx.prec = 40
            interest = half_up(Decimal(left) * periodic_rate)
        share = left if index == count - 1 else min(payment - interest, left)
        shares.append(share)
        left -= share
    return shares


def reshape_cash_loan(
    outstanding: int,
    daily_units: int,
    method: str,
    prepaid_on: date,
    due_dates: list[date],
) -> list[Reshaped]:
    """Principal and interest of the remaining installments after a prepayment on ``prepaid_on``.

    The first remaining installment's interest here covers only the days from
    the prepayment to its due date; the caller adds what was recognised before.
    """
    periodic = Decimal(daily_units) / 10**10 * DAYS_PER_PERIOD
    shares = principal_shares(outstanding, method, periodic, len(due_dates))
    result: list[Reshaped] = []
    left, previous = outstanding, prepaid_on
    for index, (due, share) in enumerate(zip(due_dates, shares, strict=True)):
        if method == "equal_installment" and index > 0:
            with localcontext() as ctx:
                ctx.prec = 40
                interest = half_up(Decimal(left) * periodic)
        else:
            interest = accrue(left, daily_units, days_between(previous, due))
        result.append(Reshaped(share, interest))
        left -= share
        previous = due
    return result
