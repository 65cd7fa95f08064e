"""Personal early warning: how stretched each borrower is, as a level with its signals.

One kernel serves the portal (a frame of one borrower) and end-of-day (a
partition): the same expressions, so the level a borrower sees is the level the
close stores and notifies. Ratios are integer basis points (1/100 of a percent)
of integer fen: no float touches money or a threshold comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

LEVELS = ("ok", "watch", "act")
"""Levels in order of severity; a level's index is its rank."""

SIGNALS = ("dti", "dues_30d", "products", "utilisation", "utilisation_rising")
"""The signals in the order they are listed to the borrower."""

BORROWER_SCHEMA = pl.Schema({"borrower_id": pl.String(), "income_fen": pl.Int64()})
"""Each borrower and the monthly income the ratios divide by (verified when known)."""

ROW_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "loan_id": pl.Int64(),
        "credit_line_id": pl.Int64(),
        "due_date": pl.Date(),
        "owed_fen": pl.Int64(),
        "principal_fen": pl.Int64(),
    }
)
"""One open installment or revolving row of an active loan: what it still asks for and
the principal of it not yet repaid."""

LINE_SCHEMA = pl.Schema(
    {"borrower_id": pl.String(), "credit_line_id": pl.Int64(), "limit_fen": pl.Int64()}
)
"""Each line that is not closed, with its limit."""

PREVIOUS_SCHEMA = pl.Schema({"borrower_id": pl.String(), "utilisation_bp": pl.Int64()})
"""Utilisation at the previous month end, where it was stored."""

WARNING_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "income_fen": pl.Int64(),
        "monthly_debt_fen": pl.Int64(),
        "dti_bp": pl.Int64(),
        "dues_30d_fen": pl.Int64(),
        "dues_30d_bp": pl.Int64(),
        "products_with_balance": pl.Int64(),
        "utilisation_bp": pl.Int64(),
        "utilisation_change_bp": pl.Int64(),
        "level": pl.String(),
        "signals": pl.List(pl.String()),
    }
)

HORIZON_DAYS = 30
"""The window of the "dues in the next 30 days" signal."""

_NO_INCOME_BP = 1_000_000_000
"""The ratio a debt against no income counts as: above every threshold."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """A signal's thresholds: at or above ``watch`` it is a watch, at or above ``act`` an
    act (``None``: the signal never reaches that level)."""

    watch: int | None
    act: int | None


def _ratio_bp(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator in basis points, rounded down; no denominator: a debt is
    above every threshold, nothing is 0."""
    return (
        pl.when(denominator > 0)
        .then(numerator * 10_000 // denominator)
        .when(numerator > 0)
        .then(pl.lit(_NO_INCOME_BP, pl.Int64))
        .otherwise(pl.lit(0, pl.Int64))
    )


def _signal_level(value: pl.Expr, threshold: Threshold) -> pl.Expr:
    """0 ok, 1 watch, 2 act; a missing value (no history, no limit) is ok."""
    rank = pl.lit(0, pl.Int8)
    if threshold.watch is not None:
        rank = pl.when(value >= threshold.watch).then(pl.lit(1, pl.Int8)).otherwise(rank)
    if threshold.act is not None:
        rank = pl.when(value >= threshold.act).then(pl.lit(2, pl.Int8)).otherwise(rank)
    return rank.fill_null(0)


def early_warning(
    borrowers: pl.DataFrame,
    rows: pl.DataFrame,
    lines: pl.DataFrame,
    previous: pl.DataFrame,
    today: date,
    thresholds: dict[str, Threshold],
) -> pl.DataFrame:
    """Each borrower's measures, level and triggered signals as of ``today``
    (``WARNING_SCHEMA``, sorted by borrower).

    - monthly debt: the next scheduled payment of each loan (its first row due after
      today), what the borrower must find every month to stay current;
    - DTI: monthly debt / monthly income;
    - dues in 30 days: everything owed by today + 30 days, arrears included, against
      monthly income: the cash this month asks for;
    - products with a balance: lines with anything owed;
    - utilisation: principal outstanding / the limits of the open lines; its change
      since the previous month end.
    """
    horizon = today + timedelta(days=HORIZON_DAYS)
    next_payment = (
        rows.filter(pl.col("due_date") > today, pl.col("owed_fen") > 0)
        .sort("loan_id", "due_date")
        .group_by("loan_id")
        .agg(pl.col("borrower_id").first(), pl.col("owed_fen").first())
        .group_by("borrower_id")
        .agg(pl.col("owed_fen").sum().alias("monthly_debt_fen"))
    )
    owing = rows.group_by("borrower_id").agg(
        pl.col("owed_fen").filter(pl.col("due_date") <= horizon).sum().alias("dues_30d_fen"),
        pl.col("credit_line_id").filter(pl.col("owed_fen") > 0).n_unique().alias("products"),
        pl.col("principal_fen").sum().alias("used_fen"),
    )
    limits = lines.group_by("borrower_id").agg(pl.col("limit_fen").sum())
    measured = (
        borrowers.join(next_payment, on="borrower_id", how="left")
        .join(owing, on="borrower_id", how="left")
        .join(limits, on="borrower_id", how="left")
        .join(previous.rename({"utilisation_bp": "previous_bp"}), on="borrower_id", how="left")
        .with_columns(
            pl.col("monthly_debt_fen", "dues_30d_fen", "products", "used_fen", "limit_fen")
            .fill_null(0)
            .cast(pl.Int64)
        )
        .with_columns(
            _ratio_bp(pl.col("monthly_debt_fen"), pl.col("income_fen")).alias("dti_bp"),
            _ratio_bp(pl.col("dues_30d_fen"), pl.col("income_fen")).alias("dues_30d_bp"),
            pl.when(pl.col("limit_fen") > 0)
            .then(pl.col("used_fen") * 10_000 // pl.col("limit_fen"))
            .alias("utilisation_bp"),
        )
        .with_columns(
            (pl.col("utilisation_bp") - pl.col("previous_bp")).alias("utilisation_change_bp")
        )
    )
    measures = {
        "dti": pl.col("dti_bp"),
        "dues_30d": pl.col("dues_30d_bp"),
        "products": pl.col("products"),
        "utilisation": pl.col("utilisation_bp"),
        "utilisation_rising": pl.col("utilisation_change_bp"),
    }
    ranks = [_signal_level(measures[s], thresholds[s]).alias(f"rank_{s}") for s in SIGNALS]
    ranked = measured.with_columns(ranks)
    fired = [
        pl.when(pl.col(f"rank_{s}") > 0).then(pl.lit(s)).otherwise(pl.lit(None, pl.String))
        for s in SIGNALS
    ]
    return (
        ranked.with_columns(
            pl.max_horizontal([f"rank_{s}" for s in SIGNALS])
            .replace_strict(list(range(len(LEVELS))), list(LEVELS), return_dtype=pl.String)
            .alias("level"),
            pl.concat_list(fired).list.drop_nulls().alias("signals"),
            pl.col("products").alias("products_with_balance"),
        )
        .select(WARNING_SCHEMA.names())
        .cast(WARNING_SCHEMA)
        .sort("borrower_id")
    )
