"""End-of-day benchmark: build a realistic book of N loans, then time one ordinary close.

Usage::

    python benchmarks/eod.py --loans 1000000 --database postgresql+psycopg://... --partitions 8

The book is generated column-wise with Polars (no Python loop per loan) and
bulk-loaded with ``crossline.store.bulk.insert_frame`` (COPY on PostgreSQL), so a
million loans build in minutes and the figure measured is the close, not the
set-up. The book is a steady state rather than a day-one portfolio: loans were
disbursed over the previous year, performing loans have paid every installment
due so far, and a share of loans is overdue with days past due spread over
1..200, each carried with the journal postings (disbursement, recognition,
repayments, penalty) that make the sub-ledger reconcile. ``--verify`` proves it.

One untimed warm-up close runs first (it writes off the backlog above the
180-day threshold and settles first-time transitions), then the next close is
timed in a fresh process so that its peak RSS is the close's own and not the
build's. Exactly one JSON line goes to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl
import psutil
import sqlalchemy as sa

from book import as_autovacuum_leaves_it, reset_database
from crossline.catalog import Catalog, catalog_to_json, load_catalog
from crossline.eod.runner import close_day
from crossline.kernels.delinquency import classify
from crossline.ledger.accounts import Account
from crossline.ledger.check import check_ledger
from crossline.ledger.journal import JOURNAL_SCHEMA
from crossline.money import RATE_SCALE, rate_units
from crossline.store import platform
from crossline.store.bulk import insert_frame
from crossline.store.engine import is_sqlite, make_engine
from crossline.store.ids import allocate_ids
from crossline.store.schema import (
    SHARDS,
    borrowers,
    credit_lines,
    installments,
    journal,
    loans,
)

BUSINESS_DATE = date(2025, 6, 11)
"""Business date of the built book. The warm-up closes 11 June, the timed close
12 June: an ordinary Thursday, not a month end."""

PRODUCT_MIX: dict[str, float] = {"fenqile": 0.40, "jiebei": 0.35, "weilidai": 0.25}
"""Share of loans per product: merchant plans are the most numerous, cash loans the rest."""

LOANS_PER_BORROWER = 2.5
PRINCIPAL_YUAN: dict[str, tuple[int, int]] = {
    "cash_loan": (1_000, 50_000),
    "installment": (200, 15_000),
}
"""Log-uniform principal band per kind: many small loans, a long tail of large ones."""

MAX_DPD = 200
"""Default DPD ceiling: overdue loans are drawn with DPD 1..200 so some cross the
180-day write-off threshold (the warm-up writes off the backlog above it, the
timed close the loans reaching it that day)."""

JOURNAL_CHUNK = 2_000_000
"""Journal lines per insert: bounds the CSV buffer and the Python tuples SQLite needs."""

HALF = RATE_SCALE // 2
_U53 = float(1 << 53)

ACCOUNTS = pl.Enum([a.value for a in Account])
EVENTS = pl.Enum(["disbursement", "interest_due", "fee_due", "repayment", "penalty_accrual"])


def log(message: str) -> None:
    """Progress to stderr, so that stdout carries only the JSON figure."""
    print(f"[eod-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _hash(key: pl.Expr, seed: int, stream: int) -> pl.Expr:
    """A seeded pseudo-random UInt64 per row.

    Polars has no seeded random-number expression; hashing a row key with a
    per-stream seed is vectorised, reproducible for a given Polars version and
    needs no NumPy (not a project dependency).
    """
    return key.hash(seed=seed * 1_000 + stream)


def _uniform(key: pl.Expr, seed: int, stream: int) -> pl.Expr:
    """Uniform float in [0, 1) from the top 53 bits of the row hash."""
    return (_hash(key, seed, stream) // (1 << 11)).cast(pl.Float64) / _U53


def _below(key: pl.Expr, seed: int, stream: int, bound: pl.Expr | int) -> pl.Expr:
    """Uniform integer in [0, bound)."""
    upper = bound.cast(pl.UInt64) if isinstance(bound, pl.Expr) else pl.lit(bound, pl.UInt64)
    return (_hash(key, seed, stream) % upper).cast(pl.Int64)


def _add_months(start: pl.Expr, months: pl.Expr) -> pl.Expr:
    """Same clamping as ``calendar.add_months``: computed from ``start`` each time."""
    return start.dt.offset_by(pl.format("{}mo", months))


def _half_up(base: pl.Expr, units: pl.Expr) -> pl.Expr:
    """``money.accrue`` for one day, on int64 columns."""
    return (base * units + HALF) // RATE_SCALE


# --------------------------------------------------------------------------- catalog tables


def _combos(catalog: Catalog) -> pl.DataFrame:
    """(product, combo, method, term) for every method × term the catalog offers."""
    rows = []
    for product_id in PRODUCT_MIX:
        product = catalog.product(product_id)
        methods: list[str | None] = list(product.methods) if product.kind == "cash_loan" else [None]
        pairs = [(m, t) for m in methods for t in product.terms]
        rows += [(product_id, i, m, t, len(pairs)) for i, (m, t) in enumerate(pairs)]
    return pl.DataFrame(
        rows,
        schema={
            "product": pl.String,
            "combo": pl.Int64,
            "method": pl.String,
            "term_months": pl.Int64,
            "combos": pl.Int64,
        },
        orient="row",
    )


def _tiers(catalog: Catalog) -> pl.DataFrame:
    """Price tiers per product (rate steps across the catalog band) with their penalty rate.

    The penalty rate is computed by the catalog itself so a rounding rule there
    cannot drift from the figures stored here.
    """
    rows = []
    for product_id in PRODUCT_MIX:
        product = catalog.product(product_id)
        if product.kind == "cash_loan":
            lo, hi = product.daily_rate_range()
            step = Decimal("0.00005")
        else:
            lo, hi = product.monthly_fee_rate_range()
            step = Decimal("0.0005")
        rates = []
        rate = lo
        while rate <= hi:
            rates.append(rate)
            rate += step
        for i, rate in enumerate(rates):
            cash = product.kind == "cash_loan"
            penalty = product.penalty_daily_rate(rate if cash else None)
            rows.append(
                (
                    product_id,
                    i,
                    len(rates),
                    rate_units(rate) if cash else None,
                    None if cash else rate_units(rate),
                    None if cash else str(rate),
                    rate_units(penalty),
                )
            )
    return pl.DataFrame(
        rows,
        schema={
            "product": pl.String,
            "tier": pl.Int64,
            "tiers": pl.Int64,
            "daily_rate_units": pl.Int64,
            "monthly_fee_rate_units": pl.Int64,
            "fee_rate": pl.String,
            "penalty_rate_units": pl.Int64,
        },
        orient="row",
    )


def _products(catalog: Catalog) -> pl.DataFrame:
    """Per-product constants copied onto lines and loans."""
    rows = []
    for product_id in PRODUCT_MIX:
        product = catalog.product(product_id)
        provider = catalog.provider_of(product_id)
        cash = product.kind == "cash_loan"
        rows.append(
            (
                product_id,
                product.kind,
                provider.id,
                provider.group,
                product.grace_days,
                "principal" if cash else "installment",
                product.max_limit_fen,
            )
        )
    return pl.DataFrame(
        rows,
        schema={
            "product": pl.String,
            "kind": pl.String,
            "provider": pl.String,
            "lender_group": pl.String,
            "grace_days": pl.Int64,
            "penalty_base": pl.String,
            "max_limit_fen": pl.Int64,
        },
        orient="row",
    )


# --------------------------------------------------------------------------- the book


@dataclass(frozen=True, slots=True)
class Book:
    """The frames to load, column names as the tables'."""

    borrowers: pl.DataFrame
    lines: pl.DataFrame
    loans: pl.DataFrame
    installments: pl.DataFrame
    headers: pl.DataFrame
    """One row per journal entry (up to four legs as columns), sorted by business date."""
    overdue_loans: int


def _draw_loans(
    n: int, seed: int, overdue_share: float, max_dpd: int, catalog: Catalog
) -> pl.DataFrame:
    """Who borrowed what, when, on which terms: one row per loan, before ids exist."""
    today = BUSINESS_DATE
    k = pl.col("k")
    n_borrowers = max(1, round(n / LOANS_PER_BORROWER))
    cumulative, bounds = 0.0, []
    for product_id, share in PRODUCT_MIX.items():
        cumulative += share
        bounds.append((cumulative, product_id))
    product = pl.lit(bounds[-1][1])
    for bound, product_id in reversed(bounds[:-1]):
        product = pl.when(pl.col("u_product") < bound).then(pl.lit(product_id)).otherwise(product)

    frame = (
        pl.DataFrame({"k": pl.int_range(n, eager=True, dtype=pl.Int64)})
        .with_columns(
            # Every borrower gets one loan, the rest land at random: ~2.5 a borrower.
            pl.when(k < n_borrowers)
            .then(k)
            .otherwise(_below(k, seed, 1, n_borrowers))
            .alias("borrower_idx"),
            _uniform(k, seed, 2).alias("u_product"),
            (_uniform(k, seed, 4) < overdue_share).alias("overdue"),
            _uniform(k, seed, 5).alias("u_principal"),
        )
        .with_columns(product.alias("product"))
        .join(_combos(catalog).select("product", "combos").unique(), on="product")
        .with_columns(_below(k, seed, 3, pl.col("combos")).alias("combo"))
        .join(_combos(catalog).drop("combos"), on=["product", "combo"])
        .join(_products(catalog), on="product")
    )
    # Overdue loans: pick the DPD, then which installment is the oldest unpaid,
    # and place the disbursement so that installment fell due DPD days ago.
    # Performing loans: disbursed up to a year ago, still inside their term.
    dpd = 1 + _below(k, seed, 6, max_dpd)
    anchor = pl.lit(today - timedelta(days=1)) - pl.duration(days=dpd)
    max_seq = pl.max_horizontal(1, pl.min_horizontal(pl.col("term_months"), (365 - dpd) // 31))
    first_unpaid = 1 + _below(k, seed, 7, max_seq)
    days_ago = 1 + _below(k, seed, 8, pl.min_horizontal(pl.col("term_months") * 28 - 2, 365))
    frame = frame.with_columns(
        pl.when(pl.col("overdue"))
        .then(_add_months(anchor, -first_unpaid))
        .otherwise(pl.lit(today) - pl.duration(days=days_ago))
        .alias("opened_on"),
        pl.when(pl.col("overdue")).then(first_unpaid).otherwise(None).alias("first_unpaid"),
    )
    cash = pl.when(pl.col("kind") == "cash_loan")
    lo_yuan = cash.then(PRINCIPAL_YUAN["cash_loan"][0]).otherwise(PRINCIPAL_YUAN["installment"][0])
    hi_yuan = cash.then(PRINCIPAL_YUAN["cash_loan"][1]).otherwise(PRINCIPAL_YUAN["installment"][1])
    step = cash.then(10_000).otherwise(100)  # cash loans in 100 yuan, plans in whole yuan
    yuan = (lo_yuan.log() + pl.col("u_principal") * (hi_yuan.log() - lo_yuan.log())).exp()
    return frame.with_columns(
        ((yuan * 100 / step).round().cast(pl.Int64).clip(1) * step).alias("principal_fen")
    ).drop("u_product", "u_principal", "combos", "combo")


def _lines_and_loans(
    drawn: pl.DataFrame, seed: int, catalog: Catalog
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Credit lines (one per borrower × product), ids, shards, prices and limits."""
    n_borrowers = drawn["borrower_idx"].max()
    assert isinstance(n_borrowers, int)
    ids = [f"b{i:09d}" for i in range(n_borrowers + 1)]
    # Shards must be the platform's own (the command path recomputes them); one
    # call per borrower is the only per-row Python work in the build.
    borrower_frame = pl.DataFrame(
        {
            "borrower_idx": pl.int_range(n_borrowers + 1, eager=True, dtype=pl.Int64),
            "borrower_id": ids,
            "shard": [platform.shard_of(b) for b in ids],
        },
        schema_overrides={"shard": pl.Int16},
    )
    drawn = drawn.with_columns(
        pl.len().over("borrower_idx", "product").alias("on_line"),
    ).with_columns(
        # A line's loans must fit its limit, which cannot exceed the product maximum.
        pl.min_horizontal(
            "principal_fen", pl.col("max_limit_fen") // pl.col("on_line") // 100 * 100
        ).alias("principal_fen")
    )
    tiers = _tiers(catalog)
    lines = (
        drawn.group_by("borrower_idx", "product")
        .agg(
            pl.col("opened_on").min(),
            pl.col("principal_fen").sum().alias("drawn_fen"),
            pl.col("max_limit_fen").first(),
        )
        .sort("opened_on", "borrower_idx", "product")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("credit_line_id"))
        .join(tiers.select("product", "tiers").unique(), on="product")
        .with_columns(_below(pl.col("credit_line_id"), seed, 9, pl.col("tiers")).alias("tier"))
        .join(tiers.drop("tiers"), on=["product", "tier"])
        .join(borrower_frame, on="borrower_idx")
        .join(_products(catalog).drop("max_limit_fen", "grace_days", "penalty_base"), on="product")
        .with_columns(
            pl.min_horizontal(
                "max_limit_fen", (pl.col("drawn_fen") * 3 // 2 + 99_999) // 100_000 * 100_000
            ).alias("limit_fen"),
            pl.lit("active").alias("status"),
        )
    )
    loan_frame = (
        drawn.join(
            lines.select(
                "borrower_idx",
                "product",
                "credit_line_id",
                "borrower_id",
                "shard",
                "daily_rate_units",
                "monthly_fee_rate_units",
                "fee_rate",
                "penalty_rate_units",
            ),
            on=["borrower_idx", "product"],
        )
        .sort("opened_on", "k")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("loan_id"),
            pl.when(pl.col("kind") == "installment")
            .then(pl.format("merchant-{}", _below(pl.col("k"), seed, 10, 500)))
            .otherwise(None)
            .alias("merchant"),
        )
    )
    people = (
        loan_frame.group_by("borrower_id", "shard")
        .agg(pl.col("opened_on").min().alias("created_on"))
        .sort("created_on", "borrower_id")
        .with_columns(
            ((3_000 + _below(pl.col("borrower_id"), seed, 11, 47_000)) * 100).alias(
                "monthly_income_fen"
            )
        )
    )
    return people, lines, loan_frame


def _schedule(loan_frame: pl.DataFrame) -> pl.DataFrame:
    """Installments of every loan, vectorised.

    equal_principal and interest_first are exact (actual-day interest on the
    principal not yet due, as ``schedules._actual_day_schedule``); merchant
    plans are exact (flat fee); equal_installment uses the float annuity for
    the balance path, then integer principal = balance drop and half-up
    interest at r = 30 × daily rate. Principal always sums to the loan's.
    """
    p, n, seq = pl.col("principal_fen"), pl.col("term_months"), pl.col("seq")
    units = pl.col("daily_rate_units")
    method = pl.col("method")
    share = p // n
    r = pl.col("r")
    balance = (
        (p.cast(pl.Float64) * pl.col("gk") - pl.col("payment") * (pl.col("gk") - 1) / r)
        .round()
        .cast(pl.Int64)
        .clip(0, p)
    )
    balance = pl.when(seq >= n).then(0).otherwise(balance)  # exactly 0 after the last period
    # Rows are exploded in (loan, seq) order, so the previous row is the previous period.
    first = seq == 1
    before = pl.when(first).then(p).otherwise(pl.col("balance").shift(1))
    outstanding = (
        pl.when(method == "equal_installment")
        .then(before)
        .when(method == "interest_first")
        .then(p)
        .otherwise(p - share * (seq - 1))
    )
    principal = (
        pl.when(method == "equal_installment")
        .then(before - pl.col("balance"))
        .when(method == "interest_first")
        .then(pl.when(seq == n).then(p).otherwise(0))
        .otherwise(pl.when(seq == n).then(p - share * (n - 1)).otherwise(share))
    )
    previous_due = pl.when(first).then(pl.col("opened_on")).otherwise(pl.col("due_date").shift(1))
    days = (pl.col("due_date") - previous_due).dt.total_days()
    cash = pl.col("kind") == "cash_loan"
    interest = (
        pl.when(~cash)
        .then(0)
        .when(method == "equal_installment")
        .then(_half_up(pl.col("outstanding"), units * 30))
        .otherwise((pl.col("outstanding") * units * days + HALF) // RATE_SCALE)
    )
    fee = pl.when(cash).then(0).otherwise(_half_up(p, pl.col("monthly_fee_rate_units")))
    annuity = method == "equal_installment"
    return (
        loan_frame.lazy()
        .select(
            "loan_id",
            "borrower_id",
            "shard",
            "credit_line_id",
            "kind",
            "method",
            "term_months",
            "principal_fen",
            "daily_rate_units",
            "monthly_fee_rate_units",
            "penalty_rate_units",
            "opened_on",
            "overdue",
            "first_unpaid",
            pl.int_ranges(1, pl.col("term_months") + 1, dtype=pl.Int64).alias("seq"),
            pl.when(annuity).then(units.cast(pl.Float64) * 30 / RATE_SCALE).alias("r"),
        )
        .with_columns(
            pl.when(annuity).then(p.cast(pl.Float64) * r / (1 - (1 + r).pow(-n))).alias("payment")
        )
        .explode("seq")
        .with_columns(
            _add_months(pl.col("opened_on"), seq).alias("due_date"),
            pl.when(annuity).then((1 + r).pow(seq)).alias("gk"),
        )
        .with_columns(pl.when(annuity).then(balance).alias("balance"))
        .with_columns(outstanding.alias("outstanding"), principal.alias("row_principal"))
        .with_columns(interest.alias("interest_fen"), fee.alias("fee_fen"))
        .drop(
            "principal_fen",
            "daily_rate_units",
            "monthly_fee_rate_units",
            "r",
            "payment",
            "gk",
            "balance",
            "outstanding",
        )
        .rename({"row_principal": "principal_fen"})
        .collect()
    )


def _state(rows: pl.DataFrame) -> pl.DataFrame:
    """Paid, recognised and penalty figures as the book stands after EOD(today − 1).

    Performing loans have paid everything due through tomorrow (the rows due
    tomorrow paid a day ahead, recognised when paid), so the measured close
    sees the day's normal recognition and the overdue book, not a spike of
    every loan due that day turning 1 DPD. Overdue loans are unpaid from their
    first unpaid installment on and carry the penalty accrued for each day
    from the due date to yesterday.
    """
    today = BUSINESS_DATE
    yesterday = today - timedelta(days=1)
    due = pl.col("due_date")
    paid = (
        pl.when(pl.col("overdue"))
        .then(pl.col("seq") < pl.col("first_unpaid"))
        .otherwise(due <= pl.lit(today + timedelta(days=1)))
    )
    recognised = paid | (due <= pl.lit(today))
    late_days = (pl.lit(yesterday) - due).dt.total_days().clip(0)
    base = (
        pl.when(pl.col("kind") == "cash_loan")
        .then(pl.col("principal_fen"))
        .otherwise(pl.col("principal_fen") + pl.col("interest_fen") + pl.col("fee_fen"))
    )
    return rows.with_columns(
        paid.alias("paid"),
        recognised.alias("recognised"),
        pl.when(paid).then(pl.min_horizontal(due, pl.lit(today))).alias("paid_on"),
    ).with_columns(
        pl.when(pl.col("paid")).then(pl.lit("paid")).otherwise(pl.lit("open")).alias("status"),
        *(
            pl.when(pl.col("paid")).then(pl.col(c)).otherwise(0).alias(f"paid_{c}")
            for c in ("principal_fen", "interest_fen", "fee_fen")
        ),
        pl.when(pl.col("recognised"))
        .then(pl.col("interest_fen"))
        .otherwise(0)
        .alias("interest_recognised_fen"),
        pl.when(pl.col("recognised"))
        .then(pl.col("fee_fen"))
        .otherwise(0)
        .alias("fee_recognised_fen"),
        pl.when(pl.col("paid")).then(None).otherwise(base).alias("penalty_basis"),
        pl.when(pl.col("paid"))
        .then(0)
        .otherwise(late_days * _half_up(base, pl.col("penalty_rate_units")))
        .alias("penalty_fen"),
    )


def _ageing(
    rows: pl.DataFrame, loan_frame: pl.DataFrame, lines: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Loan and line delinquency as EOD(today − 1) would have stored it.

    Uses the project's own classification kernel; the warm-up close would
    correct any difference anyway, but a consistent start keeps the warm-up a
    normal day instead of a day where every overdue line transitions.
    """
    yesterday = BUSINESS_DATE - timedelta(days=1)
    ages = (
        rows.filter(pl.col("overdue") & (pl.col("seq") == pl.col("first_unpaid")))
        .select("loan_id", (pl.lit(yesterday) - pl.col("due_date")).dt.total_days().alias("dpd"))
        .join(loan_frame.select("loan_id", "credit_line_id", "grace_days"), on="loan_id")
        .with_columns(
            pl.when(pl.col("dpd") > pl.col("grace_days"))
            .then(pl.col("dpd"))
            .otherwise(0)
            .alias("counted_dpd")
        )
    )
    loan_frame = loan_frame.join(
        ages.select("loan_id", "dpd"), on="loan_id", how="left"
    ).with_columns(pl.col("dpd").fill_null(0).cast(pl.Int32))
    per_line = classify(
        ages.group_by("credit_line_id").agg(pl.col("dpd").max(), pl.col("counted_dpd").max())
    )
    lines = (
        lines.join(per_line, on="credit_line_id", how="left")
        .with_columns(
            pl.col("dpd").fill_null(0).cast(pl.Int32),
            pl.col("bucket").fill_null("M0"),
            pl.col("classification").fill_null("normal"),
            pl.col("pboc_status").fill_null("N"),
        )
        .drop("counted_dpd")
    )
    return loan_frame, lines


def _headers(loan_frame: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Every past journal entry as one row with up to four legs (account, amount).

    Disbursement per loan (Dr loan_principal / Cr settlement, as
    ``origination.book_loan``), recognition per due row (as EOD's
    ``recognition``), a repayment per paid row (Dr settlement / Cr each
    receivable, as ``repayment._post``) and one summarised penalty accrual per
    overdue row. Sorted by business date so the journal is chronological.
    """
    common = ["business_date", "borrower_id", "shard", "credit_line_id", "loan_id"]
    none = pl.lit(None, ACCOUNTS)
    zero = pl.lit(0, pl.Int64)

    def legs(event: str, *pairs: tuple[Account | None, pl.Expr]) -> list[pl.Expr]:
        padded = list(pairs) + [(None, zero)] * (4 - len(pairs))
        out = [pl.lit(event, EVENTS).alias("event")]
        for i, (account, amount) in enumerate(padded, start=1):
            out.append(
                pl.lit(account.value, ACCOUNTS).alias(f"a{i}") if account else none.alias(f"a{i}")
            )
            out.append(amount.cast(pl.Int64).alias(f"m{i}"))
        return out

    p = pl.col("principal_fen")
    disbursements = loan_frame.select(
        pl.col("opened_on").alias("business_date"),
        *common[1:],
        *legs("disbursement", (Account.LOAN_PRINCIPAL, p), (Account.SETTLEMENT, -p)),
        pl.lit(None, pl.Int64).alias("basis_fen"),
    )
    recognised = rows.filter(pl.col("recognised")).with_columns(
        pl.min_horizontal("due_date", pl.lit(BUSINESS_DATE)).alias("business_date")
    )
    i, f = pl.col("interest_fen"), pl.col("fee_fen")
    interest = recognised.filter(i > 0).select(
        *common,
        *legs("interest_due", (Account.INTEREST_RECEIVABLE, i), (Account.INTEREST_INCOME, -i)),
        pl.lit(None, pl.Int64).alias("basis_fen"),
    )
    fees = recognised.filter(f > 0).select(
        *common,
        *legs("fee_due", (Account.FEE_RECEIVABLE, f), (Account.FEE_INCOME, -f)),
        pl.lit(None, pl.Int64).alias("basis_fen"),
    )
    repayments = rows.filter(pl.col("paid")).select(
        pl.col("paid_on").alias("business_date"),
        *common[1:],
        *legs(
            "repayment",
            (Account.SETTLEMENT, p + i + f),
            (Account.LOAN_PRINCIPAL, -p),
            (Account.INTEREST_RECEIVABLE, -i),
            (Account.FEE_RECEIVABLE, -f),
        ),
        pl.lit(None, pl.Int64).alias("basis_fen"),
    )
    penalty = pl.col("penalty_fen")
    penalties = rows.filter(penalty > 0).select(
        pl.lit(BUSINESS_DATE - timedelta(days=1)).alias("business_date"),
        *common[1:],
        *legs(
            "penalty_accrual",
            (Account.PENALTY_RECEIVABLE, penalty),
            (Account.PENALTY_INCOME, -penalty),
        ),
        pl.col("penalty_basis").alias("basis_fen"),
    )
    return pl.concat([disbursements, interest, fees, repayments, penalties]).sort(
        "business_date", maintain_order=True
    )


def _as_table(frame: pl.DataFrame, table: sa.Table) -> pl.DataFrame:
    """The table's columns that the frame has, in table order.

    Columns the book does not set (APR, billing dates, shadow amounts, …) are
    left to their server defaults, so a column added to the schema with a
    default does not break the benchmark; one without a default is an error.
    """
    missing = [
        c.name
        for c in table.columns
        if c.name not in frame.columns
        and not c.nullable
        and c.server_default is None
        and not c.primary_key
    ]
    if missing:
        raise RuntimeError(f"the benchmark does not fill {table.name}.{', '.join(missing)}")
    return frame.select([c.name for c in table.columns if c.name in frame.columns])


def build_book(
    n: int, seed: int, overdue_share: float, catalog: Catalog, max_dpd: int = MAX_DPD
) -> Book:
    """The whole book as frames; no database is touched here."""
    drawn = _draw_loans(n, seed, overdue_share, max_dpd, catalog)
    people, lines, loan_frame = _lines_and_loans(drawn, seed, catalog)
    rows = _state(_schedule(loan_frame))
    rows = rows.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("installment_id"))
    loan_frame, lines = _ageing(rows, loan_frame, lines)
    headers = _headers(loan_frame, rows)
    check = (
        rows.group_by("loan_id")
        .agg(pl.col("principal_fen").sum().alias("scheduled"))
        .join(loan_frame.select("loan_id", "principal_fen"), on="loan_id")
    )
    if (check["scheduled"] != check["principal_fen"]).any():  # pragma: no cover - a builder bug
        raise AssertionError("schedule principal does not sum to the loan principal")
    return Book(
        borrowers=_as_table(people, borrowers),
        lines=_as_table(lines, credit_lines),
        loans=_as_table(loan_frame.with_columns(pl.lit("active").alias("status")), loans),
        installments=_as_table(rows, installments),
        headers=headers,
        overdue_loans=int(loan_frame["overdue"].sum()),
    )


# --------------------------------------------------------------------------- loading


def journal_lines(headers: pl.DataFrame, first_id: int) -> pl.DataFrame:
    """Expand entry rows into journal lines; zero legs are not stored (as ``post_entries``)."""
    entry = pl.int_range(pl.len(), dtype=pl.Int64) + first_id
    framed = headers.with_columns(entry.alias("entry_id"))
    line_no = pl.lit(0, pl.Int16)
    parts = []
    for leg in range(1, 5):
        present = pl.col(f"a{leg}").is_not_null() & (pl.col(f"m{leg}") != 0)
        line_no = line_no + present.cast(pl.Int16)
        parts.append(
            framed.filter(present).select(
                "entry_id",
                line_no.alias("line_no"),
                "borrower_id",
                "shard",
                "business_date",
                pl.col("event").cast(pl.String),
                "credit_line_id",
                "loan_id",
                pl.col(f"a{leg}").cast(pl.String).alias("account"),
                pl.col(f"m{leg}").alias("amount_fen"),
                "basis_fen",
            )
        )
    return (
        pl.concat(parts)
        .sort("entry_id", "line_no")
        .select(list(JOURNAL_SCHEMA))
        .cast(pl.Schema(JOURNAL_SCHEMA))
    )


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[tuple[int, pl.DataFrame]]:
    for offset in range(0, frame.height, size):
        yield offset, frame.slice(offset, size)


def _bulk_load_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A 1 GiB page cache for the build connection only.

    SQLite's default 2 MB cache makes every index insert of a random key (the
    journal's loan and borrower indexes) a read through the OS; the build is
    set-up, not the figure, so it gets the cache. The closes run with the
    application's own settings.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA cache_size=-1048576")
    cursor.close()


def load_book(engine: sa.Engine, book: Book, partitions: int, catalog: Catalog) -> int:
    """Write the book; returns the journal lines written."""
    with engine.begin() as conn:
        platform.initialise(
            conn,
            business_date=BUSINESS_DATE,
            catalog_json=catalog_to_json(catalog),
            partitions=partitions,
        )
    for table, frame in (
        (borrowers, book.borrowers),
        (credit_lines, book.lines),
        (loans, book.loans),
        (installments, book.installments),
    ):
        started = time.perf_counter()
        for _, chunk in _chunks(frame, JOURNAL_CHUNK):
            with engine.begin() as conn:
                insert_frame(conn, table, chunk)
        log(f"{table.name}: {frame.height:,} rows in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    with engine.begin() as conn:
        first = allocate_ids(conn, "journal_entry", book.headers.height)
    written = 0
    entries_per_chunk = JOURNAL_CHUNK * 2 // 5  # ~2.5 lines an entry
    for offset, chunk in _chunks(book.headers, entries_per_chunk):
        lines = journal_lines(chunk, first + offset)
        with engine.begin() as conn:
            written += insert_frame(conn, journal, lines)
    log(f"journal: {written:,} lines in {time.perf_counter() - started:.1f}s")
    if not is_sqlite(engine):
        with engine.begin() as conn:
            for table, column in (
                (credit_lines, "credit_line_id"),
                (loans, "loan_id"),
                (installments, "installment_id"),
            ):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                    f"(SELECT max({column}) FROM {table.name}))"
                )
    return written


# --------------------------------------------------------------------------- the measured close


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def _peak_rss_mb() -> float:
    """This process's own high-water RSS.

    ``VmHWM`` belongs to the address space, which ``exec`` replaces; Linux's
    ``ru_maxrss`` survives ``exec``, so a spawned child would report the
    parent's build-sized peak instead of its own.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _counts_after(conn: sa.Connection, column: sa.ColumnElement[Any], after: int) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(column > after)).scalar_one())


def timed_close(url: str, verify: bool, profile: str | None) -> dict[str, Any]:
    """Close one day in this (fresh) process and report time, postings and memory.

    Runs in a spawned child so that its peak RSS is the close's alone.
    """
    engine = make_engine(url)
    with engine.connect() as conn:
        last_entry = conn.execute(sa.select(sa.func.coalesce(sa.func.max(journal.c.entry_id), 0)))
        before = int(last_entry.scalar_one())
        last_event = conn.exec_driver_sql("SELECT coalesce(max(event_id), 0) FROM outbox")
        events_before = int(last_event.scalar_one())
    rss_before = _rss_mb()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    day = close_day(engine, progress=lambda d, done, total: log(f"close {d}: {done}/{total}"))
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    result: dict[str, Any] = {"day": day.isoformat(), "seconds": seconds}
    with engine.connect() as conn:
        result["postings"] = _counts_after(conn, journal.c.entry_id, before)
        result["events"] = int(
            conn.exec_driver_sql(
                f"SELECT count(*) FROM outbox WHERE event_id > {events_before}"
            ).scalar_one()
        )
        if verify:
            started = time.perf_counter()
            check = check_ledger(conn)
            result["ledger_balanced"] = check.balanced
            result["ledger_mismatches"] = len(check.mismatches)
            log(f"ledger check: balanced={check.balanced} in {time.perf_counter() - started:.1f}s")
    result["eod_peak_rss_mb"] = round(peak, 1)
    result["eod_rss_increase_mb"] = round(peak - rss_before, 1)
    engine.dispose()
    return result


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--loans", type=int, required=True, help="active loans in the book")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL (wiped first)")
    parser.add_argument("--partitions", type=int, default=4, help="EOD partitions")
    parser.add_argument("--overdue-share", type=float, default=0.08, help="share of late loans")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--max-dpd", type=int, default=MAX_DPD, help="DPD ceiling of overdue loans (1..365)"
    )
    parser.add_argument("--verify", action="store_true", help="run the ledger check after")
    parser.add_argument("--profile", help="write cProfile stats of the timed close here")
    args = parser.parse_args(argv)
    if args.loans < 1:
        parser.error("--loans: expected a positive number")
    if not 0 <= args.overdue_share <= 1:
        parser.error("--overdue-share: expected 0..1")
    if not 1 <= args.max_dpd <= 365:
        parser.error("--max-dpd: expected 1..365")
    if not 1 <= args.partitions <= SHARDS:
        parser.error(f"--partitions: expected 1..{SHARDS}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Build, warm up, time one close, print one JSON line."""
    args = _arguments(argv)
    catalog = load_catalog("default")
    started = time.perf_counter()
    book = build_book(args.loans, args.seed, args.overdue_share, catalog, args.max_dpd)
    log(
        f"book: {book.loans.height:,} loans, {book.installments.height:,} installments, "
        f"{book.headers.height:,} entries in {time.perf_counter() - started:.1f}s"
    )
    engine = reset_database(args.database, _bulk_load_pragmas)
    database = engine.dialect.name
    load_book(engine, book, args.partitions, catalog)
    as_autovacuum_leaves_it(engine)
    build_seconds = time.perf_counter() - started
    book_balanced = None
    if args.verify:
        with engine.connect() as conn:
            book_balanced = check_ledger(conn).balanced
        log(f"book as built: ledger balanced={book_balanced}")
    figures: dict[str, Any] = {
        "benchmark": "eod",
        "loans": book.loans.height,
        "installments": book.installments.height,
        "borrowers": book.borrowers.height,
        "database": database,
        "partitions": args.partitions,
        "overdue_loans": book.overdue_loans,
    }
    del book
    engine.dispose()
    log(f"built in {build_seconds:.1f}s; warm-up close")
    started = time.perf_counter()
    engine = make_engine(args.database)
    close_day(engine)
    as_autovacuum_leaves_it(engine)
    engine.dispose()
    log(f"warm-up close in {time.perf_counter() - started:.1f}s; timed close")
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        timed = pool.submit(timed_close, args.database, args.verify, args.profile).result()
    figures |= {
        "postings": timed["postings"],
        "events": timed["events"],
        "seconds": round(timed["seconds"], 3),
        "loans_per_second": round(figures["loans"] / timed["seconds"], 1),
        "peak_rss_mb": round(max(_peak_rss_mb(), timed["eod_peak_rss_mb"]), 1),
        "eod_peak_rss_mb": timed["eod_peak_rss_mb"],
        "eod_rss_increase_mb": timed["eod_rss_increase_mb"],
        "build_seconds": round(build_seconds, 1),
        "closed": timed["day"],
    }
    if args.verify:
        figures |= {
            "book_balanced": book_balanced,
            "ledger_balanced": timed["ledger_balanced"],
            "ledger_mismatches": timed["ledger_mismatches"],
        }
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
