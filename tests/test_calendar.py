"""calendar: month stepping clamped to month end (DOMAIN §2 due dates), inclusive ranges."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.calendar import (
    add_months,
    date_range,
    days_between,
    last_day_of_month,
    monthly_date,
    monthly_days,
    next_day,
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        # Drawn on the 31st: clamped in February, back on the 31st in March.
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 1, 31), 0, date(2026, 1, 31)),
        # Leap year: 2028 is divisible by 4 (and not a century).
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2028, 1, 29), 1, date(2028, 2, 29)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2028, 2, 29), 1, date(2028, 3, 29)),
        # Year rollover.
        (date(2026, 11, 30), 2, date(2027, 1, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        # Negative months.
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2028, 3, 31), -1, date(2028, 2, 29)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 1, 31), -13, date(2024, 12, 31)),
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_months_with_explicit_day() -> None:
    # The day-of-month to keep can differ from the start's day (e.g. after a clamp).
    assert add_months(date(2026, 2, 28), 1, day=31) == date(2026, 3, 31)
    assert add_months(date(2026, 1, 10), 1, day=30) == date(2026, 2, 28)
    assert add_months(date(2026, 1, 10), 1, day=5) == date(2026, 2, 5)


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2026, 2, 28), (2028, 2, 29), (2100, 2, 28), (2000, 2, 29), (2026, 4, 30), (2026, 12, 31)],
)
def test_last_day_of_month(year: int, month: int, days: int) -> None:
    assert last_day_of_month(year, month) == days


MONTH_DAYS = {1: 31, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}


def _month_len(year: int, month: int) -> int:
    if month != 2:
        return MONTH_DAYS[month]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if leap else 28


@settings(max_examples=200)
@given(
    start=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    months=st.integers(min_value=-600, max_value=600),
)
def test_add_months_property(start: date, months: int) -> None:
    result = add_months(start, months)
    index = start.year * 12 + start.month - 1 + months
    assert (result.year, result.month) == (index // 12, index % 12 + 1)
    assert result.day == min(start.day, _month_len(result.year, result.month))


def test_date_range_inclusive() -> None:
    assert date_range(date(2026, 2, 27), date(2026, 3, 1)) == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
    ]
    assert date_range(date(2026, 5, 5), date(2026, 5, 5)) == [date(2026, 5, 5)]
    assert date_range(date(2026, 5, 6), date(2026, 5, 5)) == []


def test_date_range_across_leap_day() -> None:
    days = date_range(date(2028, 2, 28), date(2028, 3, 1))
    assert days == [date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1)]


@settings(max_examples=100)
@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(min_value=0, max_value=800),
)
def test_date_range_property(first: date, length: int) -> None:
    last = first + timedelta(days=length)
    days = date_range(first, last)
    assert len(days) == length + 1
    assert days[0] == first
    assert days[-1] == last
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))


def test_days_between_and_next_day() -> None:
    assert days_between(date(2026, 1, 31), date(2026, 3, 1)) == 29
    assert days_between(date(2028, 1, 31), date(2028, 3, 1)) == 30
    assert days_between(date(2026, 3, 1), date(2026, 1, 31)) == -29
    assert next_day(date(2026, 12, 31)) == date(2027, 1, 1)
    assert next_day(date(2028, 2, 28)) == date(2028, 2, 29)


def test_monthly_date_counts_a_missing_day_on_the_last() -> None:
    assert monthly_date(31, 2026, 2) == date(2026, 2, 28)
    assert monthly_date(30, 2028, 2) == date(2028, 2, 29)
    assert monthly_date(15, 2026, 2) == date(2026, 2, 15)
    assert monthly_date(31, 2026, 3) == date(2026, 3, 31)


def test_monthly_days_selects_the_days_the_rule_puts_where_asked() -> None:
    last_of_february = date(2026, 2, 28)
    assert monthly_days(lambda d: d == last_of_february, 2026, 2) == [28, 29, 30, 31]
    assert monthly_days(lambda d: d == date(2026, 2, 27), 2026, 2) == [27]
    assert monthly_days(lambda d: d > date(2026, 4, 29), 2026, 4) == [30, 31]
