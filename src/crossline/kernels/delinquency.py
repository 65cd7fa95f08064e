"""Delinquency classifications as Polars expressions (DOMAIN.md §2 and §3).

Buckets M0–M7+, the five-tier asset classification and the PBOC per-account
status code are each a function of days past due; they are written once here
and used by the command path and by end-of-day alike.
"""

from __future__ import annotations

import polars as pl

BUCKETS: tuple[tuple[int, str], ...] = (
    (0, "M0"),
    (30, "M1"),
    (60, "M2"),
    (90, "M3"),
    (120, "M4"),
    (150, "M5"),
    (180, "M6"),
)
"""(highest DPD, bucket); above 180 is M7+."""

CLASSIFICATIONS: tuple[tuple[int, str], ...] = (
    (0, "normal"),
    (90, "special_mention"),
    (270, "substandard"),
    (360, "doubtful"),
)
"""(highest DPD, class) per the 2023 risk classification rules; above 360 is loss."""


def _banded(dpd: pl.Expr, bands: tuple[tuple[int, str], ...], top: str) -> pl.Expr:
    expr: pl.Expr = pl.lit(top)
    for limit, label in reversed(bands):
        expr = pl.when(dpd <= limit).then(pl.lit(label)).otherwise(expr)
    return expr


def bucket(dpd: pl.Expr) -> pl.Expr:
    """Delinquency bucket of a DPD."""
    return _banded(dpd, BUCKETS, "M7+")


def classification(dpd: pl.Expr) -> pl.Expr:
    """Five-tier classification of a DPD."""
    return _banded(dpd, CLASSIFICATIONS, "loss")


def pboc_status(dpd: pl.Expr) -> pl.Expr:
    """PBOC repayment status: N current, 1 = 1–30 … 6 = 151–180, 7 = over 180."""
    return (
        pl.when(dpd <= 0)
        .then(pl.lit("N"))
        .when(dpd > 180)
        .then(pl.lit("7"))
        .otherwise(((dpd - 1) // 30 + 1).cast(pl.String))
    )


def classify(frame: pl.DataFrame, dpd_column: str = "counted_dpd") -> pl.DataFrame:
    """Add bucket, classification and pboc_status computed from ``dpd_column``."""
    dpd = pl.col(dpd_column)
    return frame.with_columns(
        bucket(dpd).alias("bucket"),
        classification(dpd).alias("classification"),
        pboc_status(dpd).alias("pboc_status"),
    )
