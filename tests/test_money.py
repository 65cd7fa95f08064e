"""money: parsing and formatting at the edges, half-up accrual inside (DOMAIN §2)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.money import MoneyError, accrue, format_fen, parse_amount

# --- parse_amount ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("3000.00", 300_000),
        ("0.5", 50),  # one decimal means tenths of a yuan: 5 jiao = 50 fen
        ("0.05", 5),
        ("0", 0),
        ("12", 1_200),
        ("976.56", 97_656),
        (" 1.01 ", 101),  # surrounding whitespace is tolerated
        (Decimal("3000.00"), 300_000),
        (3000, 300_000),  # an int is whole yuan
    ],
)
def test_parse_amount_accepts(text: str | int | Decimal, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("value", [3000.0, 0.5, 0.1])
def test_parse_amount_refuses_floats(value: float) -> None:
    with pytest.raises(MoneyError, match=r"expected an amount as a string like '3000.00'"):
        parse_amount(value)  # type: ignore[arg-type]


def test_parse_amount_refuses_bool() -> None:
    with pytest.raises(MoneyError, match=r"expected an amount as a string like '3000.00'"):
        parse_amount(True)


@pytest.mark.parametrize(
    "text",
    [
        "-1",
        "-0.01",
        "1.234",  # three decimals
        "0.001",
        "abc",
        "",
        "1,000.00",
        "1e3",
        "12.",
        "1.2.3",
        "NaN",
        "Infinity",
        "¥10",
        Decimal("-5"),
        -5,
    ],
)
def test_parse_amount_refuses_with_message(text: str | int | Decimal) -> None:
    with pytest.raises(
        MoneyError, match=r"expected a non-negative amount with at most two decimals like '3000.00'"
    ):
        parse_amount(text)


def test_money_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_amount("junk")


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**14))
def test_parse_amount_round_trips_format_fen(fen: int) -> None:
    assert parse_amount(format_fen(fen)) == fen


def test_an_amount_above_a_trillion_yuan_is_refused() -> None:
    assert parse_amount("1000000000000.00") == 10**14
    for text in ("1000000000000.01", "9" * 30):
        with pytest.raises(MoneyError, match=r"expected at most 1000000000000\.00"):
            parse_amount(text)


# --- format_fen -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),  # one-digit fen is zero-padded
        (50, "0.50"),
        (100, "1.00"),
        (300_000, "3000.00"),
        (97_656, "976.56"),
        (-5, "-0.05"),
        (-1_205, "-12.05"),
        (-100, "-1.00"),
    ],
)
def test_format_fen(fen: int, text: str) -> None:
    assert format_fen(fen) == text


@settings(max_examples=200)
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_fen_is_exact(fen: int) -> None:
    # Independent: exact Decimal yuan with two places.
    assert format_fen(fen) == str((Decimal(fen) / 100).quantize(Decimal("0.01")))


# --- accrue ---------------------------------------------------------------------------
# Rates go in as integers of 1e-10: 0.0006 -> 6_000_000.


def test_accrue_worked_example_rounds_half_up() -> None:
    # 976.56 yuan × 0.0006 = 0.585936 yuan = 58.5936 fen -> 59 fen
    assert accrue(97_656, 6_000_000) == 59


def test_accrue_exact_product() -> None:
    # 1200.00 yuan × 0.0006 = 0.72 yuan = 72 fen exactly
    assert accrue(120_000, 6_000_000) == 72


def test_accrue_exact_half_rounds_up() -> None:
    # 100.00 yuan × 0.00005 = 0.005 yuan = 0.5 fen -> 1 fen (half-up, not half-even)
    assert accrue(10_000, 500_000) == 1
    # 25 fen × 0.1 = 2.5 fen -> 3 fen (half-even would give 2)
    assert accrue(25, 1_000_000_000) == 3


def test_accrue_just_below_half_rounds_down() -> None:
    # 99.99 yuan × 0.00005 = 0.49995 fen -> 0 fen
    assert accrue(9_999, 500_000) == 0


def test_accrue_over_days_rounds_the_product() -> None:
    # 976.56 yuan × 0.0006 × 3 days = 175.7808 fen -> 176 fen
    assert accrue(97_656, 6_000_000, 3) == 176


def test_accrue_zero() -> None:
    assert accrue(0, 6_000_000) == 0
    assert accrue(120_000, 0) == 0
    assert accrue(120_000, 6_000_000, 0) == 0


@pytest.mark.parametrize(("base", "units", "days"), [(-1, 1, 1), (1, -1, 1), (1, 1, -1)])
def test_accrue_refuses_negatives(base: int, units: int, days: int) -> None:
    with pytest.raises(MoneyError):
        accrue(base, units, days)


@settings(max_examples=200)
@given(
    base=st.integers(min_value=0, max_value=10**12),
    rate=st.decimals(min_value=0, max_value=Decimal("0.01"), places=10),
    days=st.integers(min_value=0, max_value=400),
)
def test_accrue_matches_decimal_half_up(base: int, rate: Decimal, days: int) -> None:
    units = int(rate.scaleb(10))
    assert Decimal(units).scaleb(-10) == rate
    expected = (Decimal(base) * rate * days).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert accrue(base, units, days) == int(expected)
