"""Exact money and rates.

Amounts are integers of fen everywhere inside crossline; ``Decimal`` and strings
like ``"3000.00"`` exist only at the edges. Rates are exact decimals; inside
kernels they travel as integers scaled by ``RATE_SCALE`` so that a day's
accrual is pure int64 arithmetic (no float ever touches money).

Rounding rule used everywhere: half-up to the fen, applied to each day's
accrual (or to each schedule figure) separately.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
RATE_SCALE = 10**10
"""Rates are stored as integers of 1e-10: 0.0004/day -> 4_000_000."""

_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


class MoneyError(ValueError):
    """An amount or rate that is not acceptable, with the reason."""


MAX_AMOUNT_FEN = 10**14
"""The largest amount any one command may carry: a trillion yuan. Far above any consumer
credit, and far enough below the 64-bit columns' limit (about 9.2e18 fen) that sums of
many such amounts still fit."""


def parse_amount(text: str | int | Decimal) -> int:
    """Parse a non-negative yuan amount with at most two decimals into fen.

    Strings are the interchange format; a float is refused because it cannot
    be trusted to carry an exact amount.
    """
    if isinstance(text, (bool, float)):
        raise MoneyError(f"expected an amount as a string like '3000.00', got {text!r}")
    raw = str(text).strip()
    if not _AMOUNT.match(raw):
        raise MoneyError(
            f"expected a non-negative amount with at most two decimals like '3000.00', got {text!r}"
        )
    fen = int((Decimal(raw) * FEN_PER_YUAN).to_integral_value())
    if fen > MAX_AMOUNT_FEN:
        raise MoneyError(f"expected at most {format_fen(MAX_AMOUNT_FEN)}, got {text!r}")
    return fen


def parse_positive_amount(text: str | int | Decimal) -> int:
    """Like :func:`parse_amount`, for amounts that must be above zero (limits, draws, payments)."""
    fen = parse_amount(text)
    if fen <= 0:
        raise MoneyError(f"expected a positive amount, got {text!r}")
    return fen


def format_fen(fen: int) -> str:
    """Format fen as a yuan string with exactly two decimals ("-12.05" for negatives)."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{part:02d}"


def parse_rate(text: str | Decimal, *, field: str = "rate") -> Decimal:
    """Parse a non-negative rate that is exact at ``RATE_SCALE`` precision."""
    if isinstance(text, float):
        raise MoneyError(f"{field}: expected a rate as a string like '0.0005', got {text!r}")
    try:
        rate = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{field}: expected a decimal rate like '0.0005', got {text!r}") from exc
    if not rate.is_finite() or rate < 0:
        raise MoneyError(f"{field}: expected a non-negative decimal rate, got {text!r}")
    if (rate * RATE_SCALE) != (rate * RATE_SCALE).to_integral_value():
        raise MoneyError(f"{field}: at most 10 decimal places are supported, got {text!r}")
    return rate


def rate_units(rate: Decimal) -> int:
    """A rate as an integer of 1e-10, for integer kernels."""
    scaled = rate * RATE_SCALE
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"rate {rate} is not exact at 1e-10")
    return int(scaled)


def units_to_rate(units: int) -> Decimal:
    """Inverse of :func:`rate_units`."""
    return Decimal(units) / RATE_SCALE


def half_up(value: Decimal) -> int:
    """Round a fen amount given as a Decimal half-up to a whole fen."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def accrue(base_fen: int, units: int, days: int = 1) -> int:
    """Half-up fen of ``base × rate × days`` with the rate given in units of 1e-10.

    Integer-only so that the scalar path and the Polars kernels (which use the
    same formula on int64 columns) agree to the fen.
    """
    if base_fen < 0 or units < 0 or days < 0:
        raise MoneyError("accrual base, rate and days must be non-negative")
    return (base_fen * units * days + RATE_SCALE // 2) // RATE_SCALE
