"""Loading open installments (with their loan's terms) as kernel frames."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.kernels.frames import ROW_SCHEMA
from crossline.kernels.revolving import CYCLE_SCHEMA, LATE_SCHEMA
from crossline.store.bulk import read_frame
from crossline.store.schema import OPEN, installments, loans, plans, statements

_LOAN_COLUMNS = {
    "product": loans.c.product,
    "loan_kind": loans.c.kind,
    "penalty_rate_units": loans.c.penalty_rate_units,
    "penalty_base": loans.c.penalty_base,
    "grace_days": loans.c.grace_days,
    "credit_line_id": loans.c.credit_line_id,
}


def open_rows_query(where: sa.ColumnElement[bool]) -> sa.Select[tuple[object, ...]]:
    """Open installments of active loans matching ``where``, in ``ROW_SCHEMA`` order."""
    columns = [
        _LOAN_COLUMNS[name].label(name) if name in _LOAN_COLUMNS else installments.c[name]
        for name in ROW_SCHEMA
    ]
    return (
        sa.select(*columns)
        .select_from(installments.join(loans, installments.c.loan_id == loans.c.loan_id))
        .where(installments.c.status == OPEN, loans.c.status == "active", where)
    )


def read_open_rows(conn: sa.Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """Open installment rows matching ``where`` as a kernel frame."""
    return read_frame(conn, open_rows_query(where), ROW_SCHEMA)


KEY: sa.BindParameter[Any] = sa.bindparam("key")
"""The value a keyed reader (``…_of``) compares its column with.

A command reads one borrower's, line's or loan's rows several times a request.
Building such a SELECT and its cache key costs about 0.2 ms of a 0.55 ms read
(PostgreSQL, one borrower's open installments), so a keyed reader builds its
statement once per column and binds the key."""


@functools.cache
def _open_rows_of(column: sa.Column[Any]) -> sa.Select[tuple[object, ...]]:
    return open_rows_query(column == KEY)


def open_rows_of(conn: sa.Connection, column: sa.Column[Any], key: object) -> pl.DataFrame:
    """Open installment rows whose ``column`` (of loans or installments) equals ``key``."""
    return read_frame(conn, _open_rows_of(column), ROW_SCHEMA, {"key": key})


def borrower_rows(conn: sa.Connection, borrower_id: str) -> pl.DataFrame:
    """Every open installment of one borrower, due or not.

    Found through the loans' borrower index and each loan's installments: named on the
    installments alone, the borrower made the database scan every open installment of
    the book on each repayment."""
    return open_rows_of(conn, loans.c.borrower_id, borrower_id)


def partition_rows(conn: sa.Connection, lo: int, hi: int, through: date) -> pl.DataFrame:
    """Open installments of a shard range due on or before ``through``."""
    return read_open_rows(
        conn,
        sa.and_(
            installments.c.shard >= lo,
            installments.c.shard < hi,
            installments.c.due_date <= through,
        ),
    )


def cycle_rows_query(where: sa.ColumnElement[bool]) -> sa.Select[tuple[object, ...]]:
    """The open cycle row (not yet billed) of each revolving loan matching ``where``, in
    ``CYCLE_SCHEMA`` order."""
    i = installments.c
    return (
        sa.select(
            i.installment_id,
            i.loan_id,
            loans.c.credit_line_id,
            i.borrower_id,
            i.shard,
            i.seq,
            i.due_date,
            i.principal_fen,
            i.interest_fen,
            i.paid_principal_fen,
            i.paid_interest_fen,
            i.interest_recognised_fen,
            i.shadow_interest_fen,
            loans.c.daily_rate_units,
        )
        .select_from(installments.join(loans, i.loan_id == loans.c.loan_id))
        .where(
            loans.c.kind == "revolving",
            loans.c.status == "active",
            i.status == OPEN,
            i.billed_on.is_(None),
            where,
        )
    )


def read_cycle_rows(conn: sa.Connection, where: sa.ColumnElement[bool]) -> pl.DataFrame:
    """The open cycle row (not yet billed) of each revolving loan matching ``where``."""
    return read_frame(conn, cycle_rows_query(where), CYCLE_SCHEMA)


def carried_by_plan() -> sa.ColumnElement[bool]:
    """Whether a statement was issued by the day a personalised installment plan started
    on its line: the plan carries what it billed, so it stops asking for its minimum
    (no ageing, no carried past-due amount, no payments counted to it). The statement
    itself stays as issued, unmet minimum and all, which is the line's true history."""
    s, p = statements.c, plans.c
    return sa.exists().where(
        p.credit_line_id == s.credit_line_id,
        p.started_on.is_not(None),
        p.started_on >= s.statement_date,
    )


def late_statements_query(
    where: sa.ColumnElement[bool], day: date | sa.BindParameter[date]
) -> sa.Select[tuple[object, ...]]:
    """Per revolving loan matching ``where``, the due date of its oldest statement matured
    before ``day`` with the minimum unmet, in ``LATE_SCHEMA`` order."""
    s = statements.c
    return (
        sa.select(
            loans.c.loan_id,
            s.credit_line_id,
            sa.func.min(s.due_date),
            sa.func.min(loans.c.grace_days),
        )
        .select_from(
            statements.join(
                loans,
                sa.and_(loans.c.credit_line_id == s.credit_line_id, loans.c.kind == "revolving"),
            )
        )
        .where(
            s.due_date < day,
            s.paid_fen < s.minimum_fen,
            ~carried_by_plan(),
            loans.c.status == "active",
            where,
        )
        .group_by(loans.c.loan_id, s.credit_line_id)
    )


def read_late_statements(
    conn: sa.Connection, where: sa.ColumnElement[bool], day: date
) -> pl.DataFrame:
    """Per revolving loan, the due date of its oldest matured statement with the minimum unmet."""
    return read_frame(conn, late_statements_query(where, day), LATE_SCHEMA)


@functools.cache
def _late_statements_of(column: sa.Column[Any]) -> sa.Select[tuple[object, ...]]:
    return late_statements_query(column == KEY, sa.bindparam("day", type_=sa.Date()))


def late_statements_of(
    conn: sa.Connection, column: sa.Column[Any], key: object, day: date
) -> pl.DataFrame:
    """``read_late_statements`` for the loans whose ``column`` equals ``key`` (``KEY``)."""
    return read_frame(conn, _late_statements_of(column), LATE_SCHEMA, {"key": key, "day": day})
