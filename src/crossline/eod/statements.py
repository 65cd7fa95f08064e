"""The statement cut: the end-of-day before a statement date bills every revolving line.

A statement dated S is cut at the start of S (by the end-of-day of S−1) and
covers postings through the end of S−1. Lines that owe nothing get no
statement; their empty cycle simply rolls on to the next due date.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog, Product
from crossline.kernels.frames import EVENT_SCHEMA, fen_text
from crossline.kernels.revolving import PREVIOUS_SCHEMA, cut_statements
from crossline.money import rate_units
from crossline.servicing.revolving_accounts import statement_after
from crossline.servicing.rows import carried_by_plan, read_cycle_rows, read_open_rows
from crossline.store.bulk import insert_frame, read_frame, update_frame
from crossline.store.schema import installments, loans, statements


def products_cut_on(catalog: Catalog, statement_date: date) -> list[Product]:
    """Revolving products whose statement falls on ``statement_date``."""
    return [
        p
        for p in catalog.products
        if p.kind == "revolving" and p.statement_day == statement_date.day
    ]


def _previous(conn: sa.Connection, lo: int, hi: int, product: str) -> pl.DataFrame:
    s = statements.c
    latest = (
        sa.select(s.credit_line_id, sa.func.max(s.statement_date).label("last"))
        .where(s.shard >= lo, s.shard < hi)
        .group_by(s.credit_line_id)
        .subquery()
    )
    statement = (
        sa.select(s.credit_line_id, s.minimum_fen, s.paid_fen, s.due_date, s.delinquent_since)
        .select_from(
            statements.join(
                latest,
                sa.and_(
                    latest.c.credit_line_id == s.credit_line_id, latest.c.last == s.statement_date
                ),
            )
        )
        .join(
            loans, sa.and_(loans.c.credit_line_id == s.credit_line_id, loans.c.kind == "revolving")
        )
        .where(loans.c.product == product, ~carried_by_plan())
    )
    return read_frame(conn, statement, PREVIOUS_SCHEMA)


def cut_partition(
    conn: sa.Connection, product: Product, statement_date: date, lo: int, hi: int
) -> pl.DataFrame:
    """Issue the statements of one product for shards [lo, hi); returns the events."""
    due = statement_after(product, statement_date - timedelta(days=1))[1]
    next_due = statement_after(product, statement_date)[1]
    in_range = sa.and_(loans.c.shard >= lo, loans.c.shard < hi, loans.c.product == product.id)
    cycle = read_cycle_rows(conn, in_range)
    if cycle.is_empty():
        return pl.DataFrame(schema=EVENT_SCHEMA)
    billed = read_open_rows(
        conn, sa.and_(in_range, loans.c.kind == "revolving", installments.c.billed_on.is_not(None))
    )
    plans = read_open_rows(
        conn, sa.and_(in_range, loans.c.kind == "bill_installment", installments.c.due_date == due)
    )
    due_amounts = plans.select(
        "credit_line_id",
        (
            pl.col("principal_fen")
            + pl.col("fee_fen")
            - pl.col("paid_principal_fen")
            - pl.col("paid_fee_fen")
        ).alias("amount"),
    )
    issued = cut_statements(
        billed,
        cycle,
        due_amounts,
        _previous(conn, lo, hi, product.id),
        statement_date,
        due,
        rate_units(product.minimum_payment_rate),
    )
    insert_frame(conn, statements, issued)
    _roll_cycles(conn, cycle, issued, statement_date, next_due)
    return issued.select(
        "borrower_id",
        "shard",
        pl.lit(statement_date, pl.Date).alias("business_date"),
        pl.lit("statement_issued").alias("type"),
        pl.lit(product.id).alias("product"),
        "credit_line_id",
        pl.lit(None, pl.Int64).alias("loan_id"),
        pl.struct(
            pl.col("due_date").dt.to_string().alias("due_date"),
            fen_text(pl.col("balance_fen")).alias("balance"),
            fen_text(pl.col("minimum_fen")).alias("minimum_payment"),
            fen_text(pl.col("past_due_fen")).alias("past_due"),
        )
        .struct.json_encode()
        .alias("payload"),
    ).cast(EVENT_SCHEMA)


def _roll_cycles(
    conn: sa.Connection,
    cycle: pl.DataFrame,
    issued: pl.DataFrame,
    statement_date: date,
    next_due: date,
) -> None:
    """Bill the cycles of lines that got a statement and open their next cycle; roll the rest.

    The next cycles are inserted by shard and loan, as the database numbers them: the
    order a database returns rows in without ORDER BY is not a promise."""
    billed = cycle.join(issued.select("credit_line_id"), on="credit_line_id", how="semi").sort(
        "shard", "loan_id"
    )
    idle = cycle.join(issued.select("credit_line_id"), on="credit_line_id", how="anti")
    settled = (
        pl.col("principal_fen")
        + pl.col("interest_fen")
        - pl.col("paid_principal_fen")
        - pl.col("paid_interest_fen")
    ) == 0
    update_frame(
        conn,
        installments,
        "installment_id",
        billed.select(
            "installment_id",
            pl.lit(statement_date, pl.Date).alias("billed_on"),
            pl.when(settled).then(pl.lit("paid")).otherwise(pl.lit("open")).alias("status"),
        ),
    )
    update_frame(
        conn,
        installments,
        "installment_id",
        idle.select("installment_id", pl.lit(next_due, pl.Date).alias("due_date")),
    )
    insert_frame(
        conn,
        installments,
        billed.select(
            "borrower_id",
            "shard",
            "loan_id",
            (pl.col("seq") + 1).alias("seq"),
            pl.lit(next_due, pl.Date).alias("due_date"),
            *(pl.lit(0, pl.Int64).alias(c) for c in ("principal_fen", "interest_fen", "fee_fen")),
            pl.lit("open").alias("status"),
        ),
    )
