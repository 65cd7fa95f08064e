"""What each credit line owes, in total and overdue, read in one aggregate.

The month-end bureau report and a group's real-time view of its own lines
both need a line's balance and its overdue amount; they read them here so
that the two can never disagree on the definition.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.store.bulk import read_frame
from crossline.store.schema import OPEN, credit_lines, installments, loans

BALANCE_SCHEMA = pl.Schema(
    {"credit_line_id": pl.Int64(), "balance_fen": pl.Int64(), "overdue_fen": pl.Int64()}
)


def owed(*, scheduled: bool = False) -> sa.ColumnElement[int]:
    """What an installment row still asks for: principal, interest, fees and penalty less
    what is paid; interest and fees as recognised so far, or (``scheduled``) as the
    schedule states them, which is what the row asks for on its due date."""
    i = installments.c
    interest = i.interest_fen if scheduled else i.interest_recognised_fen
    fee = i.fee_fen if scheduled else i.fee_recognised_fen
    return (
        i.principal_fen
        - i.paid_principal_fen
        + interest
        - i.paid_interest_fen
        + fee
        - i.paid_fee_fen
        + i.penalty_fen
        - i.paid_penalty_fen
    )


def line_balances(conn: sa.Connection, where: sa.ColumnElement[bool], as_of: date) -> pl.DataFrame:
    """Per line matching ``where`` (on ``credit_lines``) with anything open: the balance
    (principal plus recognised interest, fees and penalty not yet paid) and the overdue
    part of it.

    A row is overdue when its due date has passed and the line is late: a
    revolving statement carried after its minimum was paid is owed, not overdue,
    and an unbilled revolving cycle is never overdue.
    """
    i = installments.c
    owed_now = owed()
    past_due = sa.and_(
        credit_lines.c.dpd > sa.literal_column("0"),
        i.due_date < as_of,
        sa.or_(loans.c.kind != "revolving", i.billed_on.is_not(None)),
    )
    statement = (
        sa.select(
            credit_lines.c.credit_line_id,
            sa.func.sum(owed_now),
            sa.func.sum(sa.case((past_due, owed_now), else_=sa.literal_column("0"))),
        )
        .select_from(
            installments.join(loans, i.loan_id == loans.c.loan_id).join(
                credit_lines, loans.c.credit_line_id == credit_lines.c.credit_line_id
            )
        )
        .where(i.status == OPEN, loans.c.status == "active", where)
        .group_by(credit_lines.c.credit_line_id)
    )
    return read_frame(conn, statement, BALANCE_SCHEMA)
