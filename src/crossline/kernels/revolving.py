"""Daily rules of revolving (Huabei-like) lines, as pure Polars functions.

A revolving line carries one ``revolving`` loan. Its open *cycle* row (no
``billed_on``) collects purchases and the revolving interest to be charged on
the next statement; the statement cut bills it and opens the next cycle. Each
billed row is one statement's charges; once its due date has passed and it is
unpaid it bears, per day (DOMAIN §2):

- revolving interest on its unpaid principal when the line's minimum payments
  are met (charged to the cycle row, i.e. on the next statement);
- the overdue fee on its unpaid balance when a minimum is unmet, in place of
  interest.

During the grace period neither is posted: both are held in ``shadow_*``
columns, computed daily on that day's base. If the minimum is met within
grace the shadow interest is charged (see servicing.revolving); if grace runs
out the shadow fee is posted at once and the fee accrues daily from then on.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from crossline.kernels.frames import per_loan
from crossline.kernels.installments import (
    LOAN_AGEING_SCHEMA,
    UNPAID_DUE,
    UNPAID_PRINCIPAL,
    UNPAID_TOTAL,
    half_up_accrual,
    pairs_frame,
)
from crossline.ledger.accounts import Account

CYCLE_SCHEMA = pl.Schema(
    {
        "installment_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "seq": pl.Int32(),
        "due_date": pl.Date(),
        "principal_fen": pl.Int64(),
        "interest_fen": pl.Int64(),
        "paid_principal_fen": pl.Int64(),
        "paid_interest_fen": pl.Int64(),
        "interest_recognised_fen": pl.Int64(),
        "shadow_interest_fen": pl.Int64(),
        "daily_rate_units": pl.Int64(),
    }
)
"""The open cycle row of each revolving loan, with the loan's revolving rate."""

LATE_SCHEMA = pl.Schema(
    {
        "loan_id": pl.Int64(),
        "credit_line_id": pl.Int64(),
        "delinquent_from": pl.Date(),
        "grace_days": pl.Int32(),
    }
)
"""Per revolving loan: due date of the oldest matured statement whose minimum is unmet."""


def _phase(day: date) -> pl.Expr:
    """current / grace / expiring (first day after grace) / late, from ``delinquent_from``."""
    late = (pl.lit(day, pl.Date) - pl.col("delinquent_from")).dt.total_days()
    return (
        pl.when(pl.col("delinquent_from").is_null())
        .then(pl.lit("current"))
        .when(late <= pl.col("grace_days"))
        .then(pl.lit("grace"))
        .when(late == pl.col("grace_days") + 1)
        .then(pl.lit("expiring"))
        .otherwise(pl.lit("late"))
    )


def _first_grace_day(day: date) -> pl.Expr:
    return (pl.lit(day, pl.Date) - pl.col("delinquent_from")).dt.total_days() == 1


def revolving_accrual(
    rows: pl.DataFrame, cycle: pl.DataFrame, late: pl.DataFrame, day: date
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One day of interest, overdue fee and grace shadows for revolving loans.

    Returns (pairs to post, billed-row updates, cycle-row updates).
    """
    matured = rows.filter(
        (pl.col("loan_kind") == "revolving")
        & pl.col("billed_on").is_not_null()
        & (pl.col("due_date") < day)
        & (UNPAID_DUE > 0)
    ).join(late.select("loan_id", "delinquent_from"), on="loan_id", how="left")
    matured = matured.with_columns(
        _phase(day).alias("phase"),
        half_up_accrual(UNPAID_DUE, pl.col("penalty_rate_units")).alias("fee_today"),
    )
    fee_rows = matured.filter(pl.col("phase") != "current").with_columns(
        pl.when(pl.col("phase") == "expiring")
        .then(pl.col("shadow_penalty_fen") + pl.col("fee_today"))
        .when(pl.col("phase") == "late")
        .then(pl.col("fee_today"))
        .otherwise(0)
        .alias("posted"),
        pl.when(pl.col("phase") != "grace")
        .then(0)
        .when(_first_grace_day(day))
        .then(pl.col("fee_today"))
        .otherwise(pl.col("shadow_penalty_fen") + pl.col("fee_today"))
        .alias("new_shadow"),
        UNPAID_DUE.alias("base"),
    )
    fee_pairs = pairs_frame(
        fee_rows,
        day=day,
        event="penalty_accrual",
        debit=Account.PENALTY_RECEIVABLE,
        credit=Account.PENALTY_INCOME,
        amount=pl.col("posted"),
        basis=pl.col("base"),
    )
    row_updates = fee_rows.select(
        "installment_id",
        (pl.col("penalty_fen") + pl.col("posted")).alias("penalty_fen"),
        pl.col("new_shadow").alias("shadow_penalty_fen"),
    )
    interest = _interest(matured, cycle, late, day)
    interest_pairs = pairs_frame(
        interest,
        day=day,
        event="revolving_interest",
        debit=Account.INTEREST_RECEIVABLE,
        credit=Account.INTEREST_INCOME,
        amount=pl.col("posted"),
        basis=pl.col("base"),
    )
    cycle_updates = interest.select(
        "installment_id",
        (pl.col("interest_fen") + pl.col("posted")).alias("interest_fen"),
        (pl.col("interest_recognised_fen") + pl.col("posted")).alias("interest_recognised_fen"),
        pl.col("new_shadow").alias("shadow_interest_fen"),
    )
    return pl.concat([per_loan(fee_pairs), interest_pairs]), row_updates, cycle_updates


def _interest(
    matured: pl.DataFrame, cycle: pl.DataFrame, late: pl.DataFrame, day: date
) -> pl.DataFrame:
    """Per loan: revolving interest on the matured rows' unpaid principal, posted or shadowed."""
    bases = matured.group_by("loan_id").agg(UNPAID_PRINCIPAL.sum().alias("base"))
    with_base = (
        cycle.join(bases, on="loan_id", how="left")
        .join(late.select("loan_id", "delinquent_from", "grace_days"), on="loan_id", how="left")
        .with_columns(pl.col("base").fill_null(0))
        .filter((pl.col("base") > 0) | (pl.col("shadow_interest_fen") > 0))
    )
    today = half_up_accrual(pl.col("base"), pl.col("daily_rate_units"))
    return with_base.with_columns(_phase(day).alias("phase")).with_columns(
        pl.when(pl.col("phase") == "current").then(today).otherwise(0).alias("posted"),
        pl.when(pl.col("phase") != "grace")
        .then(0)
        .when(_first_grace_day(day))
        .then(today)
        .otherwise(pl.col("shadow_interest_fen") + today)
        .alias("new_shadow"),
    )


def revolving_ages(late: pl.DataFrame, day: date) -> pl.DataFrame:
    """DPD from the oldest unmet matured statement (within grace counted as current)."""
    if late.is_empty():  # a payment's refresh, mostly: skip the select's fixed cost
        return pl.DataFrame(schema=LOAN_AGEING_SCHEMA)
    dpd = (pl.lit(day, pl.Date) - pl.col("delinquent_from")).dt.total_days().cast(pl.Int32)
    return late.select(
        "loan_id",
        "credit_line_id",
        dpd.alias("dpd"),
        pl.when(dpd > pl.col("grace_days"))
        .then(dpd)
        .otherwise(0)
        .cast(pl.Int32)
        .alias("counted_dpd"),
    ).cast(LOAN_AGEING_SCHEMA)


STATEMENT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "credit_line_id": pl.Int64(),
        "statement_date": pl.Date(),
        "due_date": pl.Date(),
        "balance_fen": pl.Int64(),
        "minimum_fen": pl.Int64(),
        "past_due_fen": pl.Int64(),
        "paid_fen": pl.Int64(),
        "delinquent_since": pl.Date(),
    }
)

PREVIOUS_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "minimum_fen": pl.Int64(),
        "paid_fen": pl.Int64(),
        "due_date": pl.Date(),
        "delinquent_since": pl.Date(),
    }
)
"""Each line's latest statement before the cut."""


def cut_statements(
    revolving_rows: pl.DataFrame,
    cycle: pl.DataFrame,
    installments_due: pl.DataFrame,
    previous: pl.DataFrame,
    statement_date: date,
    due_date: date,
    minimum_rate_units: int,
) -> pl.DataFrame:
    """Statements dated ``statement_date`` for every revolving line that owes anything.

    Balance = everything unpaid on the line's billed rows (the cycle being billed
    included) + bill installments falling due in the cycle. Minimum = 10% of the
    revolving part (half-up) + those installments + the previous statement's
    unmet minimum (DOMAIN §2), never above the balance. A line whose previous
    minimum is unmet keeps its delinquency start date.

    Rows come in line order: the cut inserts them in this order and the database
    numbers them so, and a grouping's order changes from run to run, which would
    give the same seed a book with other statement ids.
    """
    billed = (
        revolving_rows.filter(
            (pl.col("loan_kind") == "revolving") & pl.col("billed_on").is_not_null()
        )
        .group_by("credit_line_id")
        .agg(UNPAID_TOTAL.sum().alias("billed"))
    )
    new = cycle.group_by("credit_line_id", "borrower_id", "shard").agg(
        (UNPAID_PRINCIPAL + pl.col("interest_fen") - pl.col("paid_interest_fen")).sum().alias("new")
    )
    due = installments_due.group_by("credit_line_id").agg(
        pl.col("amount").sum().alias("installments")
    )
    lines = (
        new.join(billed, on="credit_line_id", how="left")
        .join(due, on="credit_line_id", how="left")
        .join(previous, on="credit_line_id", how="left")
        .with_columns(pl.col("billed", "installments", "minimum_fen", "paid_fen").fill_null(0))
        .with_columns(
            (pl.col("billed") + pl.col("new")).alias("revolving"),
            (pl.col("minimum_fen") - pl.col("paid_fen")).clip(lower_bound=0).alias("past_due"),
        )
        .with_columns((pl.col("revolving") + pl.col("installments")).alias("balance"))
    )
    minimum = (
        half_up_accrual(pl.col("revolving"), pl.lit(minimum_rate_units))
        + pl.col("installments")
        + pl.col("past_due")
    )
    return (
        lines.filter(pl.col("balance") > 0)
        .select(
            "borrower_id",
            "shard",
            "credit_line_id",
            pl.lit(statement_date, pl.Date).alias("statement_date"),
            pl.lit(due_date, pl.Date).alias("due_date"),
            pl.col("balance").alias("balance_fen"),
            pl.min_horizontal(minimum, pl.col("balance")).alias("minimum_fen"),
            pl.col("past_due").alias("past_due_fen"),
            pl.lit(0, pl.Int64).alias("paid_fen"),
            pl.when(pl.col("past_due") > 0)
            .then(pl.coalesce("delinquent_since", "due_date"))
            .otherwise(pl.lit(None, pl.Date))
            .alias("delinquent_since"),
        )
        .sort("credit_line_id")
        .cast(STATEMENT_SCHEMA)
    )
