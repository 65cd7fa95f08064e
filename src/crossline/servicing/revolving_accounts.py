"""The revolving loan behind a revolving line, its cycle rows and statement dates."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from crossline.calendar import next_day_of_month
from crossline.catalog import Product
from crossline.money import rate_units
from crossline.store.schema import installments, loans


def statement_after(product: Product, day: date) -> tuple[date, date]:
    """(statement date, due date) of the first statement cut after ``day``.

    A purchase on a statement day belongs to the next statement: the one
    dated that day was cut at the start of it (issue 2's conventions).
    """
    statement = next_day_of_month(day, product.statement_day)
    return statement, next_day_of_month(statement, product.due_day)


_INSERT_LOAN = loans.insert().returning(loans.c.loan_id)
_INSERT_CYCLE = installments.insert()


def open_revolving_loan(
    conn: sa.Connection,
    product: Product,
    borrower_id: str,
    shard: int,
    credit_line_id: int,
    today: date,
) -> int:
    """Create the line's revolving loan and its first cycle row; returns the loan id."""
    if product.revolving_daily_rate is None:  # pragma: no cover - validated by the catalog
        raise ValueError(f"product {product.id!r} has no revolving rate")
    loan_id = int(
        conn.execute(
            _INSERT_LOAN,
            {
                "borrower_id": borrower_id,
                "shard": shard,
                "credit_line_id": credit_line_id,
                "product": product.id,
                "kind": "revolving",
                "principal_fen": 0,
                "daily_rate_units": rate_units(product.revolving_daily_rate),
                "penalty_rate_units": rate_units(product.penalty_daily_rate()),
                "penalty_base": "installment",
                "grace_days": product.grace_days,
                "opened_on": today,
                "status": "active",
            },
        ).scalar_one()
    )
    _, due = statement_after(product, today)
    open_cycle(conn, borrower_id, shard, loan_id, seq=1, due_date=due)
    return loan_id


def open_cycle(
    conn: sa.Connection, borrower_id: str, shard: int, loan_id: int, seq: int, due_date: date
) -> None:
    """Open an empty cycle row that will be billed on the next statement."""
    conn.execute(
        _INSERT_CYCLE,
        {
            "borrower_id": borrower_id,
            "shard": shard,
            "loan_id": loan_id,
            "seq": seq,
            "due_date": due_date,
            "principal_fen": 0,
            "interest_fen": 0,
            "fee_fen": 0,
            "status": "open",
        },
    )
