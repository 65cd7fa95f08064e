"""Simulated credit history for the default scorecard, until the portfolio simulator exists.

Each borrower has a latent risk ``z`` (standard normal, higher is riskier). Every
feature is a noisy, monotone view of ``z``, so a scorecard trained on the sample
learns the directions a lender expects (worse status, more inquiries, higher
utilisation or debt to income: riskier; longer credit age, better payment ratio:
safer). The outcome ``bad`` (90+ DPD within 12 months) depends on ``z`` and also
directly on some behaviour (late now or lately, credit seeking, balances on many
products, unverified income): without those direct effects the weaker views of
``z`` add nothing once the stronger are known, and training drops them. The
intercept is set for a bad rate near 4.5%.

The column names are the feature builder's; ``REASONS`` gives each one the
adverse-reason text a borrower reads, shared by the trainer and the default model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import polars as pl

TARGET = "bad"
DEFAULT_ROWS = 20_000

REASONS: Mapping[str, str] = MappingProxyType(
    {
        "current_status": "An account is overdue now",
        "worst_status_12m": "Recent late payments on your accounts",
        "overdue_months_cumulative_24m": "Months with overdue payments in the last two years",
        "months_since_delinquency": "Time since your last late payment is short",
        "utilisation": "High use of your credit limits",
        "credit_age_months": "Short credit history",
        "payment_ratio_6m": "Low share of amounts due paid in the last six months",
        "hard_inquiries_3m": "Many recent applications for credit",
        "debt_to_income": "High debt compared with your income",
        "products_with_balance": "Balances on many credit products",
        "spending_regularity": "Irregular spending pattern",
        "verified_income": "Income not verified",
    }
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _masked(values: np.ndarray, missing: np.ndarray, dtype: type[pl.DataType]) -> pl.Series:
    """A column with nulls where ``missing``: the feature builder gives null, not NaN."""
    floats = pl.Series(np.where(missing, np.nan, values.astype(np.float64)))
    return floats.fill_nan(None).cast(dtype)


def _delinquency(
    rng: np.random.Generator, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Late months in the last 24 months, worst and current status, months since the last.

    Status k means k months overdue (0 current, capped at 8), so the current status
    never exceeds the worst of the year and the worst never exceeds the late months.
    """
    n = z.size
    p_month = _sigmoid(-4.6 + 1.3 * z)
    recent = rng.binomial(12, p_month)
    older = rng.binomial(12, p_month)
    cumulative = recent + older
    depth = 1 + rng.poisson(np.exp(-1.3 + 0.7 * z))
    worst = np.where(recent > 0, np.minimum(np.minimum(depth, recent), 8), 0)
    late_now = (recent > 0) & (rng.random(n) < _sigmoid(-1.4 + 0.8 * z))
    current = np.where(late_now, 1 + np.floor(rng.random(n) * np.maximum(worst, 1)), 0)
    remembered = rng.random(n) < 0.08 * _sigmoid(z)
    since = np.select(
        [current > 0, recent > 0, older > 0, remembered],
        [0, rng.integers(1, 12, n), rng.integers(12, 24, n), rng.integers(24, 72, n)],
        default=-1,
    )
    return cumulative, worst, current, since


def synthetic_history(rows: int, seed: int) -> pl.DataFrame:
    """``rows`` borrowers with the feature columns of ``REASONS`` and the outcome ``bad``.

    The same ``rows`` and ``seed`` give the same frame on every machine (one seeded
    Generator, draws in a fixed order, floats rounded to 4 decimals), which is what
    lets ``make model`` reproduce the shipped scorecard byte for byte.
    """
    if rows < 1:
        raise ValueError(f"rows: expected a positive number of borrowers, got {rows}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(rows)
    cumulative, worst, current, since = _delinquency(rng, z)

    no_limit = rng.random(rows) < 0.12
    utilisation = np.round(1.15 * _sigmoid(-0.9 + 0.9 * z + 0.8 * rng.standard_normal(rows)), 4)
    thin_file = rng.random(rows) < 0.04
    age = np.exp(4.0 - 0.3 * z + 0.6 * rng.standard_normal(rows))
    credit_age = np.clip(np.rint(age), 1, 360)
    nothing_due = rng.random(rows) < 0.07
    shortfall = _sigmoid(-2.6 + 1.2 * z + 0.8 * rng.standard_normal(rows))
    overpaid = 0.2 * rng.random(rows) * (rng.random(rows) < 0.15)
    payment_ratio = np.round(1.0 - shortfall + overpaid, 4)
    inquiries = rng.poisson(np.exp(-0.7 + 0.5 * z))
    dti = np.round(np.clip(np.exp(-1.1 + 0.25 * z + 0.5 * rng.standard_normal(rows)), 0, 5), 4)
    products = rng.poisson(np.exp(0.6 + 0.2 * z))
    regularity = np.round(_sigmoid(1.0 - 0.6 * z + 0.8 * rng.standard_normal(rows)), 4)
    verified = rng.random(rows) < _sigmoid(0.6 - 0.5 * z)
    recently_late = (since >= 0) & (since <= 6)
    p_bad = _sigmoid(
        -4.45
        + 1.0 * z
        + 0.5 * current
        + 0.2 * worst
        + 0.35 * recently_late
        + 0.2 * inquiries
        + 0.12 * products
        + 0.4 * ~verified
    )
    bad = (rng.random(rows) < p_bad).astype(np.int64)

    return pl.DataFrame(
        {
            "current_status": current.astype(np.int64),
            "worst_status_12m": worst.astype(np.int64),
            "overdue_months_cumulative_24m": cumulative.astype(np.int64),
            "months_since_delinquency": _masked(since, since < 0, pl.Int64),
            "utilisation": _masked(utilisation, no_limit, pl.Float64),
            "credit_age_months": _masked(credit_age, thin_file, pl.Int64),
            "payment_ratio_6m": _masked(payment_ratio, nothing_due, pl.Float64),
            "hard_inquiries_3m": inquiries.astype(np.int64),
            "debt_to_income": dti,
            "products_with_balance": products.astype(np.int64),
            "spending_regularity": regularity,
            "verified_income": np.where(verified, "yes", "no"),
            TARGET: bad,
        }
    )
