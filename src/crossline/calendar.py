"""Business-date arithmetic: month stepping with day-of-month clamping, day counts."""

from __future__ import annotations

import calendar as _cal
from collections.abc import Callable
from datetime import date, timedelta


def last_day_of_month(year: int, month: int) -> int:
    """Number of days in the month."""
    return _cal.monthrange(year, month)[1]


def add_months(start: date, months: int, day: int | None = None) -> date:
    """The date ``months`` later on ``day`` (default: start's day), clamped to month end.

    Due dates keep the disbursement day-of-month: a loan drawn on 31 January
    falls due on 28/29 February and then on 31 March, not on the 28th forever.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    return monthly_date(start.day if day is None else day, year, month0 + 1)


def monthly_date(day: int, year: int, month: int) -> date:
    """The date in ``year``/``month`` of something monthly on ``day`` (1–31): a day past
    the month's end counts on its last day, so an anniversary of 31 January falls on
    28/29 February.

    The one statement of the rule: due dates (``add_months``) and a line's
    anniversaries, in the features kernel and in the close's choice of whom to
    re-score, all read it.
    """
    return date(year, month, min(day, last_day_of_month(year, month)))


def monthly_days(where: Callable[[date], bool], year: int, month: int) -> list[int]:
    """The days of the month (1–31) whose ``monthly_date`` in ``year``/``month`` meets
    ``where``: how a vectorised reader (a Polars expression, an SQL filter) applies the
    rule to a column of days without writing it again."""
    return [day for day in range(1, 32) if where(monthly_date(day, year, month))]


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
