"""Scorecard features of a borrower, computed from one lender group's view.

One pure function, :func:`build_features`, turns the frames of a view
(:class:`ViewFrames`) into one row of features per borrower. The real-time
path passes the frames of one borrower, the end-of-day batch the frames of a
partition of millions: the same expressions, no loop per borrower. The
readers in ``crossline.scoring.views`` decide *what* a group may see (own lines
in real time, other groups only through reported bureau records); this
module decides how what is seen becomes a feature.

Windows. Months are calendar months. With ``as_of`` in month M, "the last N
months" are M−N+1 … M, the current month included and counted whole up to
``as_of`` (nothing dated after ``as_of`` counts). Dated inputs are filtered here,
so a reader may pass more than the window.

========================  ======  ====================================================
feature                   type    definition (source; own = the group's own lines,
                                  other = other groups' reported bureau records)
========================  ======  ====================================================
current_dpd               Int32   worst real-time DPD of the own lines; 0 if none
                                  (own only: other groups' DPD is not reported)
current_status            Int8    worst current level (0–8) over visible accounts:
                                  own lines' PBOC status now, other accounts' latest
                                  reported status
worst_status_{3,6,12,24}m Int8    worst month level in the last N months; 0 if none.
                                  Own months use the actual severity (band of the
                                  month's worst DPD beyond grace; B = 8), other
                                  months the reported status
overdue_months_           Int16   longest run of consecutive calendar months in the
consecutive_24m                   last 24 in which any visible account had level ≥ 1
overdue_months_           Int16   number of such months in the last 24
cumulative_24m
lian_san_lei_liu          Bool    连三累六: consecutive ≥ 3 or cumulative ≥ 6
months_since_delinquency  Int16   calendar months from the latest month with level ≥ 1
                                  to the current month; 0 if delinquent now; null if
                                  no visible month was ever delinquent
cured                     Bool    worst_status_24m ≥ 1 and current_status = 0
overdue_amount_fen        Int64   overdue amount over visible accounts (own: real
                                  time; other: as last reported)
lines_count               Int16   visible open accounts (own not closed; other not
                                  reported settled C or ended G)
products_with_balance     Int16   products whose visible account has a balance > 0
products_overdue          Int16   products whose visible account has overdue > 0
utilisation               Float64 balance / limit summed over open accounts with a
                                  limit > 0; null if there is none
credit_age_months         Int16   whole months from the oldest visible account's
                                  opening to as_of (month-end clamped); null if none
payment_ratio_6m          Float64 own rows that fell due before as_of in the last 6
                                  months: Σ min(paid, due) / Σ due; null if nothing
                                  was due
hard_inquiries_{1,3,6}m   Int16   hard inquiries (any inquirer) in the last N months
declared_income_fen       Int64   monthly income the borrower declared
verified_income_fen       Int64   verified monthly income; null if not verified
verified_income           String  "yes" if a verified income exists, else "no"
debt_to_income            Float64 total visible balance / (12 × monthly income), the
                                  verified income if any, else the declared; null if
                                  that income is 0
spending_regularity       Float64 share of the last 6 months with at least one
                                  purchase or draw on an own line
========================  ======  ====================================================
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import TypeAlias

import polars as pl

from crossline.calendar import add_months, last_day_of_month
from crossline.kernels.bureau import status_level
from crossline.kernels.delinquency import pboc_status

ACCOUNT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "product": pl.String(),
        "own": pl.Boolean(),
        "open": pl.Boolean(),
        "opened_on": pl.Date(),
        "limit_fen": pl.Int64(),
        "balance_fen": pl.Int64(),
        "overdue_fen": pl.Int64(),
        "level": pl.Int8(),
        "dpd": pl.Int32(),
    }
)
"""One visible account: an own line now, or another group's latest visible record
(``dpd`` null: only the status band is reported)."""

MONTH_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "product": pl.String(),
        "month": pl.Date(),
        "level": pl.Int8(),
    }
)
"""One account's level (0–8) in one calendar month; ``month`` is any day of it."""

INQUIRY_SCHEMA = pl.Schema(
    {"borrower_id": pl.String(), "inquired_on": pl.Date(), "hard": pl.Boolean()}
)
"""One credit-report inquiry (every inquirer's: they are on the report)."""

PAYMENT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "due_date": pl.Date(),
        "due_fen": pl.Int64(),
        "paid_fen": pl.Int64(),
    }
)
"""One amount an own line asked for by a due date, and what was paid towards it."""

SPEND_SCHEMA = pl.Schema({"borrower_id": pl.String(), "spent_on": pl.Date()})
"""One purchase or draw on an own line."""

BORROWER_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "declared_income_fen": pl.Int64(),
        "verified_income_fen": pl.Int64(),
    }
)
"""Every borrower to score; each gets one feature row."""

FEATURE_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "current_dpd": pl.Int32(),
        "current_status": pl.Int8(),
        "worst_status_3m": pl.Int8(),
        "worst_status_6m": pl.Int8(),
        "worst_status_12m": pl.Int8(),
        "worst_status_24m": pl.Int8(),
        "overdue_months_consecutive_24m": pl.Int16(),
        "overdue_months_cumulative_24m": pl.Int16(),
        "lian_san_lei_liu": pl.Boolean(),
        "months_since_delinquency": pl.Int16(),
        "cured": pl.Boolean(),
        "overdue_amount_fen": pl.Int64(),
        "lines_count": pl.Int16(),
        "products_with_balance": pl.Int16(),
        "products_overdue": pl.Int16(),
        "utilisation": pl.Float64(),
        "credit_age_months": pl.Int16(),
        "payment_ratio_6m": pl.Float64(),
        "hard_inquiries_1m": pl.Int16(),
        "hard_inquiries_3m": pl.Int16(),
        "hard_inquiries_6m": pl.Int16(),
        "declared_income_fen": pl.Int64(),
        "verified_income_fen": pl.Int64(),
        "verified_income": pl.String(),
        "debt_to_income": pl.Float64(),
        "spending_regularity": pl.Float64(),
    }
)
"""One row per borrower; the column names are the scorecard's characteristics."""

STATUS_WINDOWS = (3, 6, 12, 24)
INQUIRY_WINDOWS = (1, 3, 6)
HISTORY_MONTHS = 24
"""Look-back of the overdue-month counts (连三累六 by common usage, DOMAIN §3)."""
RECENT_MONTHS = 6
"""Look-back of payment ratio and spending regularity."""


Frame: TypeAlias = pl.DataFrame | pl.LazyFrame
"""A view's frame: eager as read or made by hand, or lazy, so that a reader's own
Polars steps and the kernel's run as one plan (one collect, not two)."""


@dataclass(frozen=True, slots=True)
class ViewFrames:
    """A lender group's view of some borrowers, as frames with the schemas above."""

    accounts: Frame
    months: Frame
    inquiries: Frame
    payments: Frame
    spend: Frame
    borrowers: Frame


def month_index(day: pl.Expr) -> pl.Expr:
    """Calendar months since year 0 (consecutive months differ by 1)."""
    return day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32) - 1


def months_ago(day: pl.Expr, as_of: date) -> pl.Expr:
    """0 for a date in as_of's month, 1 for the month before, …"""
    return pl.lit(as_of.year * 12 + as_of.month - 1, pl.Int32) - month_index(day)


def window_start(as_of: date, months: int) -> date:
    """First day of the last ``months`` calendar months (readers bound their reads with it)."""
    return add_months(as_of.replace(day=1), 1 - months)


def in_last_months(day: pl.Expr, as_of: date, months: int) -> pl.Expr:
    """Whether a date lies in the last ``months`` calendar months, not after ``as_of``."""
    return (day <= pl.lit(as_of, pl.Date)) & (months_ago(day, as_of) < months)


def dpd_level(dpd: pl.Expr, grace_days: pl.Expr) -> pl.Expr:
    """Level (0–7) of a DPD; days within the product's grace count as current.

    Used for a group's own month history, which takes the worst DPD of the
    month rather than the reported status (DOMAIN §2: paying in grace is on time).
    """
    counted = pl.when(dpd > grace_days).then(dpd).otherwise(pl.lit(0))
    return status_level(pboc_status(counted))


def _longest_run(month: pl.Expr) -> pl.Expr:
    """Longest run of consecutive values among a group's month offsets."""
    ordered = month.unique().sort()
    return (ordered - pl.int_range(ordered.len(), dtype=pl.Int32)).unique_counts().max()


def _whole_months_since(opened: pl.Expr, as_of: date) -> pl.Expr:
    """Largest k with opened + k months (day clamped to month end) on or before as_of."""
    month_length = last_day_of_month(as_of.year, as_of.month)
    anniversary_day = pl.min_horizontal(opened.dt.day().cast(pl.Int32), pl.lit(month_length))
    short = (anniversary_day > as_of.day).cast(pl.Int32)
    return (months_ago(opened, as_of) - short).clip(lower_bound=0)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator / denominator)


@dataclass(frozen=True, slots=True)
class _Source:
    """Which rows of an input count, and the columns it contributes."""

    keep: pl.Expr
    columns: tuple[pl.Expr, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """Every expression of one business date's features."""

    months: _Source
    inquiries: _Source
    payments: _Source
    spend: _Source
    aggregates: tuple[pl.Expr, ...]
    outputs: tuple[pl.Expr, ...]


def _sources(as_of: date) -> tuple[_Source, _Source, _Source, _Source]:
    """Rows of the dated inputs inside their windows, reduced to month offsets and amounts."""
    month_ago = months_ago(pl.col("month"), as_of)
    due = pl.col("due_date")
    inquired = pl.col("inquired_on")
    spent = pl.col("spent_on")
    return (
        _Source(
            month_ago >= 0,
            (month_ago.alias("month_ago"), pl.col("level").alias("month_level")),
        ),
        _Source(
            pl.col("hard") & in_last_months(inquired, as_of, max(INQUIRY_WINDOWS)),
            (months_ago(inquired, as_of).alias("inquiry_ago"),),
        ),
        _Source(
            (due < pl.lit(as_of, pl.Date)) & in_last_months(due, as_of, RECENT_MONTHS),
            (pl.col("due_fen"), pl.min_horizontal("paid_fen", "due_fen").alias("paid_fen")),
        ),
        _Source(
            in_last_months(spent, as_of, RECENT_MONTHS),
            (months_ago(spent, as_of).alias("spend_ago"),),
        ),
    )


def _aggregates() -> tuple[pl.Expr, ...]:
    """Per-borrower sums, maxima and counts from which every feature follows."""
    limited = pl.col("open") & (pl.col("limit_fen") > 0)
    ago = pl.col("month_ago")
    bad = pl.col("month_level") >= 1
    bad_recent = ago.filter(bad & (ago < HISTORY_MONTHS))
    return (
        pl.col("listed").any(),
        pl.col("shard").max(),
        pl.col("declared_income_fen").max(),
        pl.col("verified_income_fen").max(),
        pl.col("dpd").filter(pl.col("own")).max().alias("current_dpd"),
        pl.col("account_level").max().alias("current_status"),
        pl.col("overdue_fen").sum().alias("overdue_amount_fen"),
        pl.col("open").sum().alias("lines_count"),
        pl.col("product")
        .filter(pl.col("balance_fen") > 0)
        .n_unique()
        .alias("products_with_balance"),
        pl.col("product").filter(pl.col("overdue_fen") > 0).n_unique().alias("products_overdue"),
        pl.col("balance_fen").sum().alias("total_balance_fen"),
        pl.col("balance_fen").filter(limited).sum().alias("used_fen"),
        pl.col("limit_fen").filter(limited).sum().alias("limit_total_fen"),
        pl.col("opened_on").min().alias("oldest_opened_on"),
        *(
            pl.col("month_level").filter(ago < n).max().alias(f"worst_status_{n}m")
            for n in STATUS_WINDOWS
        ),
        _longest_run(bad_recent).alias("overdue_months_consecutive_24m"),
        bad_recent.n_unique().alias("overdue_months_cumulative_24m"),
        ago.filter(bad).min().alias("last_delinquent_ago"),
        *((pl.col("inquiry_ago") < n).sum().alias(f"hard_inquiries_{n}m") for n in INQUIRY_WINDOWS),
        pl.col("due_fen").sum().alias("due_total_fen"),
        pl.col("paid_fen").sum().alias("paid_total_fen"),
        pl.col("spend_ago").drop_nulls().n_unique().alias("spend_months"),
    )


def _outputs(as_of: date) -> tuple[pl.Expr, ...]:
    """The features from the aggregates (a sum over no rows is 0, a maximum null)."""
    current_status = pl.col("current_status").fill_null(0)
    worst_24m = pl.col("worst_status_24m").fill_null(0)
    consecutive = pl.col("overdue_months_consecutive_24m").fill_null(0)
    cumulative = pl.col("overdue_months_cumulative_24m")
    income = pl.coalesce("verified_income_fen", "declared_income_fen")
    return (
        pl.col("borrower_id"),
        pl.col("shard"),
        pl.col("current_dpd").fill_null(0),
        current_status,
        *(pl.col(f"worst_status_{n}m").fill_null(0) for n in STATUS_WINDOWS),
        consecutive,
        cumulative,
        ((consecutive >= 3) | (cumulative >= 6)).alias("lian_san_lei_liu"),
        pl.when(current_status > 0)
        .then(pl.lit(0))
        .otherwise(pl.col("last_delinquent_ago"))
        .alias("months_since_delinquency"),
        ((worst_24m > 0) & (current_status == 0)).alias("cured"),
        pl.col("overdue_amount_fen"),
        pl.col("lines_count"),
        pl.col("products_with_balance"),
        pl.col("products_overdue"),
        _ratio(pl.col("used_fen"), pl.col("limit_total_fen")).alias("utilisation"),
        _whole_months_since(pl.col("oldest_opened_on"), as_of).alias("credit_age_months"),
        _ratio(pl.col("paid_total_fen"), pl.col("due_total_fen")).alias("payment_ratio_6m"),
        *(pl.col(f"hard_inquiries_{n}m") for n in INQUIRY_WINDOWS),
        pl.col("declared_income_fen"),
        pl.col("verified_income_fen"),
        pl.when(pl.col("verified_income_fen").is_not_null())
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no"))
        .alias("verified_income"),
        _ratio(pl.col("total_balance_fen"), 12 * income).alias("debt_to_income"),
        (pl.col("spend_months") / RECENT_MONTHS).alias("spending_regularity"),
    )


@functools.lru_cache(maxsize=8)
def _plan(as_of: date) -> _Plan:
    """Built once per business date: on a frame of one borrower, building the
    expressions costs about as much as running them."""
    months, inquiries, payments, spend = _sources(as_of)
    return _Plan(months, inquiries, payments, spend, _aggregates(), _outputs(as_of))


def _dated(frame: Frame, source: _Source) -> pl.LazyFrame:
    return frame.lazy().filter(source.keep).select(pl.col("borrower_id"), *source.columns)


def build_features(view: ViewFrames, as_of: date) -> pl.DataFrame:
    """One row of :data:`FEATURE_SCHEMA` per borrower of ``view.borrowers``, in its order.

    The inputs are stacked into one long frame, each source in columns of its
    own (null on the other sources' rows, which aggregations skip), and one
    group-by computes everything. Polars has a fixed cost per operation that
    dominates a frame of one borrower, so one lazy plan with one group-by
    beats a group-by and a join per source; on millions it is one hash pass.
    Every borrower gets a row, with zeros and nulls where the view has nothing.
    """
    plan = _plan(as_of)
    rows = pl.concat(
        [
            view.borrowers.lazy().with_columns(pl.lit(True).alias("listed")),
            view.accounts.lazy().rename({"level": "account_level"}),
            _dated(view.months, plan.months),
            _dated(view.inquiries, plan.inquiries),
            _dated(view.payments, plan.payments),
            _dated(view.spend, plan.spend),
        ],
        how="diagonal",
    )
    return (
        rows.group_by("borrower_id", maintain_order=True)
        .agg(plan.aggregates)
        .filter(pl.col("listed"))
        .select(plan.outputs)
        .cast(FEATURE_SCHEMA)
        .collect(engine="in-memory")
    )
