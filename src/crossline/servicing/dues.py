"""What borrowers owe by a date, line by line: the calendar a borrower pays from.

A borrower (the portal's dues calendar, the simulator's borrowers) asks one
question before paying: on each of my lines, how much falls due by this date
and is not paid yet, and, on a revolving line, what is the least I can pay.
The exact amount a payment settles is decided by ``repay`` at the time of
payment (``all_due``); this read is what the borrower sees beforehand, from
the scheduled amounts, so it is the same whichever day interest is
recognised on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.servicing.balances import owed
from crossline.servicing.rows import carried_by_plan
from crossline.store.bulk import read_frame, stage_ids
from crossline.store.schema import OPEN, credit_lines, installments, loans, statements

DUES_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "first_due": pl.Date(),
        "due_fen": pl.Int64(),
        "minimum_fen": pl.Int64(),
    }
)
"""One line with money falling due: its earliest unpaid due date, what falls due by the
date asked (scheduled principal, interest and fees, penalties, less what is paid), and
the least a payment can be without the line going late (a revolving line's statement
minimum not yet paid, plus its other loans' dues; the whole due elsewhere)."""

_ROW_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "loan_kind": pl.String(),
        "due_date": pl.Date(),
        "owed_fen": pl.Int64(),
    }
)

_MINIMUM_SCHEMA = pl.Schema({"credit_line_id": pl.Int64(), "statement_minimum_fen": pl.Int64()})


def dues(
    conn: sa.Connection, through: date, borrowers: Sequence[str] | None = None
) -> pl.DataFrame:
    """Every line (of ``borrowers``, or of everyone) with money due by ``through``
    (``DUES_SCHEMA``), by borrower and line."""
    i, c = installments.c, credit_lines.c
    where = [i.status == OPEN, loans.c.status == "active", i.due_date <= through]
    statement_where = [statements.c.due_date <= through]
    if borrowers is not None:
        staged = stage_ids(conn, "dues_borrowers", pl.Series(list(borrowers), dtype=pl.String))
        where.append(i.borrower_id.in_(sa.select(staged.c.id)))
        statement_where.append(statements.c.borrower_id.in_(sa.select(staged.c.id)))
    rows = read_frame(
        conn,
        sa.select(
            i.borrower_id,
            c.product,
            c.credit_line_id,
            loans.c.kind,
            i.due_date,
            owed(scheduled=True),
        )
        .select_from(
            installments.join(loans, i.loan_id == loans.c.loan_id).join(
                credit_lines, loans.c.credit_line_id == c.credit_line_id
            )
        )
        .where(*where, i.billed_on.is_not(None) | (loans.c.kind != "revolving")),
        _ROW_SCHEMA,
    )
    minimums = _statement_minimums(conn, statement_where)
    owing = rows.filter(pl.col("owed_fen") > 0)
    revolving = pl.col("loan_kind") == "revolving"
    return (
        owing.group_by("borrower_id", "product", "credit_line_id")
        .agg(
            pl.col("due_date").min().alias("first_due"),
            pl.col("owed_fen").sum().alias("due_fen"),
            pl.col("owed_fen").filter(~revolving).sum().alias("other_fen"),
            revolving.any().alias("has_revolving"),
        )
        .join(minimums, on="credit_line_id", how="left")
        .with_columns(
            pl.when(pl.col("has_revolving"))
            .then(
                pl.min_horizontal(
                    pl.col("other_fen") + pl.col("statement_minimum_fen").fill_null(0),
                    pl.col("due_fen"),
                )
            )
            .otherwise(pl.col("due_fen"))
            .alias("minimum_fen")
        )
        .select(DUES_SCHEMA.names())
        .cast(DUES_SCHEMA)
        .sort("borrower_id", "credit_line_id")
    )


def _statement_minimums(conn: sa.Connection, where: list[sa.ColumnElement[bool]]) -> pl.DataFrame:
    """Each revolving line's latest statement due by the date: its minimum not yet paid."""
    s = statements.c
    latest = (
        sa.select(s.credit_line_id, sa.func.max(s.statement_date).label("statement_date"))
        .where(*where)
        .group_by(s.credit_line_id)
        .subquery()
    )
    unpaid = read_frame(
        conn,
        sa.select(s.credit_line_id, s.minimum_fen - s.paid_fen)
        .join(
            latest,
            (s.credit_line_id == latest.c.credit_line_id)
            & (s.statement_date == latest.c.statement_date),
        )
        .where(~carried_by_plan()),
        _MINIMUM_SCHEMA,
    )
    return unpaid.with_columns(pl.col("statement_minimum_fen").clip(lower_bound=0))
