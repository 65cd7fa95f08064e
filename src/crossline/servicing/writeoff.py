"""Write-off at the provider's DPD threshold (DOMAIN §2, default 180).

Everything the loan still owes leaves the receivables for the write-off
expense in one posting per component; the installments keep their history
(status ``written_off``) and the line is frozen and reported as bad debt (B).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog
from crossline.kernels.frames import EVENT_SCHEMA, fen_text
from crossline.kernels.installments import UNPAID_PENALTY, UNPAID_PRINCIPAL
from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT, Account
from crossline.store.bulk import update_frame
from crossline.store.schema import credit_lines, installments, loans


def due_for_write_off(ages: pl.DataFrame, rows: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Loans whose DPD reached their provider's write-off threshold."""
    thresholds = pl.DataFrame(
        [(p.id, catalog.provider_of(p.id).write_off_dpd) for p in catalog.products],
        schema={"product": pl.String, "write_off_dpd": pl.Int32},
        orient="row",
    )
    products = rows.select("loan_id", "product").unique("loan_id")
    return (
        ages.join(products, on="loan_id")
        .join(thresholds, on="product")
        .filter(pl.col("dpd") >= pl.col("write_off_dpd"))
        .select("loan_id", "credit_line_id", "dpd")
    )


def write_off(
    conn: sa.Connection, rows: pl.DataFrame, targets: pl.DataFrame, day: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Write off ``targets`` (loan_id, credit_line_id); ``rows`` must hold all their open rows.

    Returns (pairs to post, events).
    """
    mine = rows.join(targets.select("loan_id"), on="loan_id")
    owed = mine.group_by("loan_id", "credit_line_id", "borrower_id", "shard", "product").agg(
        UNPAID_PRINCIPAL.sum().alias("principal"),
        (pl.col("interest_recognised_fen") - pl.col("paid_interest_fen")).sum().alias("interest"),
        (pl.col("fee_recognised_fen") - pl.col("paid_fee_fen")).sum().alias("fee"),
        UNPAID_PENALTY.sum().alias("penalty"),
    )
    pairs = owed.unpivot(
        index=["loan_id", "credit_line_id", "borrower_id", "shard", "product"],
        variable_name="component",
        value_name="amount_fen",
    ).select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("write_off").alias("event"),
        "credit_line_id",
        "loan_id",
        pl.lit(Account.WRITE_OFF_EXPENSE.value).alias("debit"),
        pl.col("component")
        .replace_strict({k: v.value for k, v in RECEIVABLE_BY_COMPONENT.items()})
        .alias("credit"),
        pl.col("amount_fen").cast(pl.Int64),
        pl.lit(None, pl.Int64).alias("basis_fen"),
    )
    update_frame(
        conn,
        installments,
        "installment_id",
        mine.select("installment_id", pl.lit("written_off").alias("status")),
    )
    update_frame(
        conn,
        loans,
        "loan_id",
        targets.select(
            "loan_id",
            pl.lit("written_off").alias("status"),
            pl.lit(day, pl.Date).alias("closed_on"),
        ),
    )
    update_frame(
        conn,
        credit_lines,
        "credit_line_id",
        targets.select(
            "credit_line_id",
            pl.lit(day, pl.Date).alias("written_off_on"),
            pl.lit("frozen").alias("status"),
        ).unique("credit_line_id"),
    )
    events = owed.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("written_off").alias("type"),
        "product",
        "credit_line_id",
        "loan_id",
        pl.struct(
            fen_text(
                pl.col("principal") + pl.col("interest") + pl.col("fee") + pl.col("penalty")
            ).alias("amount")
        )
        .struct.json_encode()
        .alias("payload"),
    ).cast(EVENT_SCHEMA)
    return pairs, events
