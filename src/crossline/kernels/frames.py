"""Column layouts of the frames the kernels exchange with the store."""

from __future__ import annotations

import polars as pl

ROW_SCHEMA = pl.Schema(
    {
        "installment_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "loan_kind": pl.String(),
        "seq": pl.Int32(),
        "due_date": pl.Date(),
        "principal_fen": pl.Int64(),
        "interest_fen": pl.Int64(),
        "fee_fen": pl.Int64(),
        "penalty_fen": pl.Int64(),
        "paid_principal_fen": pl.Int64(),
        "paid_interest_fen": pl.Int64(),
        "paid_fee_fen": pl.Int64(),
        "paid_penalty_fen": pl.Int64(),
        "interest_recognised_fen": pl.Int64(),
        "fee_recognised_fen": pl.Int64(),
        "shadow_interest_fen": pl.Int64(),
        "shadow_penalty_fen": pl.Int64(),
        "billed_on": pl.Date(),
        "penalty_rate_units": pl.Int64(),
        "penalty_base": pl.String(),
        "grace_days": pl.Int32(),
    }
)
"""An open installment joined with the loan terms the kernels need."""

LINE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "status": pl.String(),
        "dpd": pl.Int32(),
        "bucket": pl.String(),
        "classification": pl.String(),
        "pboc_status": pl.String(),
        "written_off_on": pl.Date(),
        "month_max_dpd": pl.Int32(),
        "cured_on": pl.Date(),
    }
)
"""A credit line's stored delinquency state."""

EVENT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "business_date": pl.Date(),
        "type": pl.String(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "payload": pl.String(),
    }
)
"""An outbox event before it has an id."""

PAIR_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "business_date": pl.Date(),
        "event": pl.String(),
        "credit_line_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "debit": pl.String(),
        "credit": pl.String(),
        "amount_fen": pl.Int64(),
        "basis_fen": pl.Int64(),
    }
)
"""One row per two-leg entry: debit ``debit`` and credit ``credit`` by ``amount_fen``."""

PAIR_COLUMNS = list(PAIR_SCHEMA)


def fen_text(fen: pl.Expr) -> pl.Expr:
    """Fen as the interchange string ("1818.00"), for event payloads built in kernels."""
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (fen.abs() // 100).cast(pl.String)
    part = (fen.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([sign, whole, pl.lit("."), part])


def per_loan(pairs: pl.DataFrame) -> pl.DataFrame:
    """One entry per loan, day, event and accounts: amounts (and bases) summed.

    Each installment's accrual is rounded on its own before the sum, so the
    sub-ledger's per-installment figures add up exactly to the posting.
    """
    keys = [c for c in PAIR_COLUMNS if c not in ("amount_fen", "basis_fen")]
    return (
        pairs.group_by(keys, maintain_order=True)
        .agg(pl.col("amount_fen").sum(), pl.col("basis_fen").sum())
        .select(PAIR_COLUMNS)
    )
