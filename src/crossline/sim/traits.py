"""Latent borrower traits, drawn from a seed, and the figures they are calibrated to.

The figures the behaviour is calibrated to, with their sources, are in
``CALIBRATION_SOURCES``; the portfolio report prints them in its notes next
to the rates the run actually reached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

CALIBRATION_SOURCES: tuple[str, ...] = (
    "Income: urban disposable income per head in China was about RMB 54,000 a year in "
    "2024 (National Bureau of Statistics), RMB 4,500 a month; online consumer-credit users "
    "skew young, urban and employed. Monthly income here is log-normal around RMB 6,000 "
    "(sigma 0.55 in logs), its month-to-month variation 5-35%.",
    "Delinquency: prime online consumer credit runs a 90+ DPD rate of about 1-3%. Ant "
    "Group's prospectus (2020) gave 1.21% for Huabei and 1.52% for Jiebei at 30 June 2020; "
    "WeBank reported non-performing loans of about 1.2% (annual reports 2020-2023); "
    "LexinFintech, a near-prime lender, reported 90+ DPD of about 2.5-3% (2023). Liquidity "
    "shocks (about 1.15% of borrowers a month, lasting weeks to months) and the willingness "
    "to pay are set so that a year's book lands in that range.",
    "Revolving: about a third of card-style revolving users carry a balance and pay the "
    "minimum in a given month; here 30% of borrowers are revolvers.",
)

PRODUCT_APPETITE = {"huabei": 0.85, "fenqile": 0.40, "jiebei": 0.35, "weilidai": 0.30}
"""Share of borrowers who want each product at some point in the year."""

MEDIAN_INCOME_FEN = 600_000
INCOME_LOG_SIGMA = 0.55


@dataclass(frozen=True, slots=True)
class Shocks:
    """How often liquidity shocks (job loss, illness, a large unplanned expense) hit and
    how long they last: the knob the delinquency of a book turns on. Each borrower's
    monthly chance and mean length in days are drawn uniformly from these ranges."""

    monthly_rate: tuple[float, float]
    mean_days: tuple[float, float]


CALIBRATED_SHOCKS = Shocks(monthly_rate=(0.003, 0.02), mean_days=(15, 90))
"""1.15 % of borrowers a month on average, lasting two weeks to three months: a year's
book lands inside the public 1-3 % 90+ DPD range (see ``CALIBRATION_SOURCES``)."""
STRESSED_SHOCKS = Shocks(monthly_rate=(0.01, 0.05), mean_days=(30, 120))
"""A downturn: three times as many shocks, lasting longer. A small, short book then
still holds every kind of event a report measures — deep overdues, bureau reports,
other groups acting on them — which the report's own tests need."""
REVOLVER_SHARE = 0.30
DOCUMENTS_READY = 0.70
"""Share of borrowers who file an income proof when an application asks for one."""

TRAITS_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "monthly_income_fen": pl.Int64(),
        "income_volatility": pl.Float64(),
        "payday": pl.Int8(),
        "spend_share": pl.Float64(),
        "purchases_per_month": pl.Float64(),
        "shock_rate": pl.Float64(),
        "shock_days": pl.Float64(),
        "willingness": pl.Float64(),
        "revolver": pl.Boolean(),
        "documents_ready": pl.Boolean(),
        **{f"wants_{product}": pl.Boolean() for product in PRODUCT_APPETITE},
    }
)
"""One borrower's traits. ``spend_share``: the share of income spent on credit lines in
a month; ``willingness``: the chance of paying a due bill the borrower can afford on the
day; ``shock_rate``/``shock_days``: the monthly chance and mean length of a shock, during
which the borrower has no spare cash."""


def borrower_ids(count: int) -> list[str]:
    """Simulated borrowers' ids, sortable in creation order."""
    return [f"sim-{i:06d}" for i in range(count)]


def draw_traits(count: int, seed: int, shocks: Shocks = CALIBRATED_SHOCKS) -> pl.DataFrame:
    """``count`` borrowers' traits (``TRAITS_SCHEMA``), the same for the same seed."""
    rng = np.random.default_rng([seed, 0])
    income = np.exp(rng.normal(np.log(MEDIAN_INCOME_FEN), INCOME_LOG_SIGMA, count))
    frame = {
        "borrower_id": borrower_ids(count),
        "monthly_income_fen": (np.round(income / 100) * 100).astype(np.int64),
        "income_volatility": rng.uniform(0.05, 0.35, count),
        "payday": rng.integers(1, 29, count).astype(np.int8),
        "spend_share": rng.beta(2.0, 8.0, count),
        "purchases_per_month": rng.uniform(1.0, 5.0, count),
        "shock_rate": rng.uniform(*shocks.monthly_rate, count),
        "shock_days": rng.uniform(*shocks.mean_days, count),
        "willingness": rng.beta(30.0, 1.2, count),
        "revolver": rng.random(count) < REVOLVER_SHARE,
        "documents_ready": rng.random(count) < DOCUMENTS_READY,
    }
    for product, share in PRODUCT_APPETITE.items():
        frame[f"wants_{product}"] = rng.random(count) < share
    return pl.DataFrame(frame, schema=TRAITS_SCHEMA)
