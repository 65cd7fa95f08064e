"""Credit-report rules as Polars expressions (DOMAIN.md §3).

The month-end report, the credit report a person reads and every group's view
of another group's accounts all ask the same questions of a record: how bad
is its status, is it negative, and may it still be shown. They are answered
here once.
"""

from __future__ import annotations

from datetime import date

import polars as pl

STATUS_LEVELS: dict[str, int] = {
    "N": 0,
    "C": 0,
    "G": 0,
    "*": 0,
    "#": 0,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "6": 6,
    "7": 7,
    "B": 8,
}
"""Severity of each PBOC status code: 0 for anything not late, 1–7 by DPD band,
8 for bad debt. Features and the 24-month grid compare statuses by this level."""

RETENTION_MONTHS = 60
"""Art. 16: a negative record is shown for 5 years from the end of the delinquency."""


NEGATIVE_STATUSES: tuple[str, ...] = tuple(
    code for code, level in STATUS_LEVELS.items() if level > 0
)
"""The codes that report a delinquency (1-7) or bad debt (B)."""


def status_level(status: pl.Expr) -> pl.Expr:
    """Severity level (0–8) of a status code."""
    return status.replace_strict(STATUS_LEVELS, return_dtype=pl.Int8)


def is_negative(status: pl.Expr) -> pl.Expr:
    """Whether a status reports a delinquency (1–7) or bad debt (B)."""
    return status_level(status) > 0


def visible(as_of: date) -> pl.Expr:
    """Whether a record (``status``, ``delinquency_ended_on``) may be shown on ``as_of``.

    A record that is not negative is always shown; a negative one while its
    delinquency is open and until 5 years after it ended (a delinquency ended
    on 29 February stops being shown on 28 February five years on).
    """
    ended = pl.col("delinquency_ended_on")
    return (
        ~is_negative(pl.col("status"))
        | ended.is_null()
        | (ended.dt.offset_by(f"{RETENTION_MONTHS}mo") > pl.lit(as_of, pl.Date))
    )
