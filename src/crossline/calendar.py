"""Business-date arithmetic: month stepping with day-of-month clamping, day counts."""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta


def last_day_of_month(year: int, month: int) -> int:
    """Number of days in the month."""
    return _cal.monthrange(year, month)[1]


def add_months(start: date, months: int, day: int | None = None) -> date:
    """The date ``months`` later on ``day`` (default: start's day), clamped to month end.

    Due dates keep the disbursement day-of-month: a loan drawn on 31 January
    falls due on 28/29 February and then on 31 March, not on the 28th forever.
    """
    target_day = start.day if day is None else day
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    return date(year, month, min(target_day, last_day_of_month(year, month)))


def days_between(start: date, end: date) -> int:
    """Whole days from ``start`` to ``end`` (end − start)."""
    return (end - start).days


def next_day(day: date) -> date:
    """The following calendar day."""
    return day + timedelta(days=1)


def date_range(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def next_day_of_month(after: date, day: int) -> date:
    """The first date strictly after ``after`` that falls on ``day`` (1–28) of its month."""
    candidate = date(after.year, after.month, day)
    return candidate if candidate > after else add_months(candidate, 1)
