"""Revolving-line commands: spending, installment purchases, bill conversion, payments.

Spending adds to the open cycle row; a purchase in installments or a bill
conversion becomes a ``bill_installment`` loan whose installments fall due on
the line's statement due dates. Payments count towards the statements'
minimums, and meeting the minimum within grace charges the interest held in
suspense instead of the overdue fee (see kernels.revolving).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.catalog import CatalogError, Product
from crossline.events.outbox import Event, emit
from crossline.kernels.installments import half_up_accrual, recognition
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Leg, post_entries, post_pairs
from crossline.money import format_fen, rate_units
from crossline.servicing.balances import owed
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import Line, catalog_product, get_line, line_entry
from crossline.servicing.origination import LoanTerms, book_loan, check_amount
from crossline.servicing.rows import (
    carried_by_plan,
    cycle_rows_query,
    late_statements_of,
    open_rows_of,
)
from crossline.servicing.schedules import bill_installment_schedule
from crossline.store.bulk import update_frame
from crossline.store.schema import installments, loans, statements


def add_to(conn: sa.Connection, key: sa.Column[int], value: int, **deltas: int) -> None:
    """Add ``deltas`` (negative to take away) to the named columns of the row whose ``key``
    is ``value``.

    The database adds, so a concurrent change to another column is not lost. The
    statement is built once per table, key and columns: it runs on every purchase.
    """
    statement = _adding(key.table, key.name, tuple(deltas))
    conn.execute(statement, {"key": value, **{f"add_{n}": d for n, d in deltas.items()}})


@functools.cache
def _adding(table: sa.Table, key: str, names: tuple[str, ...]) -> sa.Update:
    """``add_to``'s statement. Keyed by the key column's name, not the column: a column
    compares with ``==`` into SQL, which a cache's lookup cannot use."""
    return (
        sa.update(table)
        .where(table.c[key] == sa.bindparam("key"))
        .values({name: table.c[name] + sa.bindparam(f"add_{name}") for name in names})
    )


@dataclass(frozen=True, slots=True)
class Cycle:
    """The line's revolving loan and its open cycle row."""

    loan_id: int
    installment_id: int
    due_date: date
    shadow_interest_fen: int


_LINE_CYCLE = cycle_rows_query(loans.c.credit_line_id == sa.bindparam("credit_line_id"))
_CREDIT = sa.select(loans.c.credit_fen).where(loans.c.loan_id == sa.bindparam("loan_id"))


def cycle_of(ctx: Context, line: Line) -> Cycle:
    """The revolving loan and open cycle of a revolving line."""
    row = ctx.conn.execute(_LINE_CYCLE, {"credit_line_id": line.credit_line_id}).first()
    if row is None:  # pragma: no cover - every revolving line has one
        raise RefusedError("no_cycle", f"the {line.product} line has no open cycle")
    return Cycle(row.loan_id, row.installment_id, row.due_date, row.shadow_interest_fen)


def spend(ctx: Context, line: Line, amount_fen: int) -> int:
    """A purchase on the revolving balance: free until its statement's due date.

    A credit balance left by an overpayment pays for it first (DOMAIN §2).
    """
    check_amount(ctx, line, amount_fen)
    cycle = cycle_of(ctx, line)
    credit = int(ctx.conn.execute(_CREDIT, {"loan_id": cycle.loan_id}).scalar_one())
    applied = min(credit, amount_fen)
    i, ln = installments.c, loans.c
    add_to(
        ctx.conn,
        i.installment_id,
        cycle.installment_id,
        principal_fen=amount_fen,
        paid_principal_fen=applied,
    )
    add_to(ctx.conn, ln.loan_id, cycle.loan_id, principal_fen=amount_fen, credit_fen=-applied)
    post_entries(
        ctx.conn,
        [
            line_entry(
                ctx,
                line,
                "purchase",
                cycle.loan_id,
                (Leg(Account.LOAN_PRINCIPAL, amount_fen), Leg(Account.SETTLEMENT, -amount_fen)),
            ),
            line_entry(
                ctx,
                line,
                "credit_applied",
                cycle.loan_id,
                (Leg(Account.BORROWER_CREDIT, applied), Leg(Account.LOAN_PRINCIPAL, -applied)),
            ),
        ],
    )
    emit(
        ctx.conn,
        [
            Event(
                line.borrower_id,
                line.shard,
                ctx.today,
                "purchased",
                line.product,
                line.credit_line_id,
                cycle.loan_id,
                {"amount": format_fen(amount_fen)},
            )
        ],
    )
    return cycle.loan_id


def _bill_terms(product: Product, months: int, fee_field: str) -> LoanTerms:
    try:
        option = product.bill_installment(months)
    except CatalogError as exc:
        raise InputError(fee_field, str(exc)) from exc
    return LoanTerms(
        kind="bill_installment",
        method=None,
        term_months=months,
        daily_rate_units=None,
        penalty_rate_units=rate_units(product.penalty_daily_rate()),
        penalty_base="installment",
        grace_days=product.grace_days,
        fee_rate=option.fee_rate,
    )


def purchase_in_installments(
    ctx: Context, product: Product, line: Line, amount_fen: int, months: int
) -> int:
    """A purchase split into monthly installments billed with the line's statements."""
    terms = _bill_terms(product, months, "installments")
    check_amount(ctx, line, amount_fen)
    assert terms.fee_rate is not None
    first_due = cycle_of(ctx, line).due_date
    schedule = bill_installment_schedule(amount_fen, terms.fee_rate, months, first_due)
    return book_loan(ctx, line, amount_fen, schedule, terms)


def _latest_statement(ctx: Context, line: Line) -> sa.Row[Any, Any, Any, Any, Any]:
    s = statements.c
    row = ctx.conn.execute(
        sa.select(s.statement_id, s.statement_date, s.due_date, s.past_due_fen, s.paid_fen)
        .where(s.credit_line_id == line.credit_line_id)
        .order_by(s.statement_date.desc())
        .limit(1)
    ).first()
    if row is None:
        raise RefusedError("no_statement", f"the {line.product} line has no statement yet")
    return row


def convert_statement(ctx: Context, borrower_id: str, product_id: str, months: int) -> int:
    """Turn what the latest statement bills on the revolving balance into installments.

    Allowed before the statement's due date while the line is current; the
    unpaid principal and interest move to a new bill-installment loan (through
    a clearing account, one entry per loan) and the statement's balance and
    minimum are recomputed with the first installment in them.
    """
    product = catalog_product(ctx, product_id)
    if product.kind != "revolving":
        raise InputError("product", f"{product_id!r} is not a revolving product")
    terms = _bill_terms(product, months, "months")
    line = get_line(ctx, borrower_id, product_id)
    statement = _latest_statement(ctx, line)
    if ctx.today > statement.due_date:
        raise RefusedError("statement_due", f"the statement due {statement.due_date} has passed")
    if statement.past_due_fen > 0:
        raise RefusedError("line_overdue", "a statement with a past-due amount cannot convert")
    cycle = cycle_of(ctx, line)
    i = installments.c
    billed = ctx.conn.execute(
        sa.select(
            i.installment_id,
            i.principal_fen - i.paid_principal_fen,
            i.interest_recognised_fen - i.paid_interest_fen,
        ).where(i.loan_id == cycle.loan_id, i.status == "open", i.billed_on.is_not(None))
    ).all()
    principal = sum(int(r[1]) for r in billed)
    interest = sum(int(r[2]) for r in billed)
    if principal + interest <= 0:
        raise RefusedError("nothing_to_convert", "the statement has nothing left to convert")
    post_entries(
        ctx.conn,
        [
            line_entry(
                ctx,
                line,
                "bill_conversion",
                cycle.loan_id,
                (
                    Leg(Account.CONVERSION_CLEARING, principal + interest),
                    Leg(Account.LOAN_PRINCIPAL, -principal),
                    Leg(Account.INTEREST_RECEIVABLE, -interest),
                ),
            )
        ],
    )
    for installment_id, row_principal, row_interest in billed:
        ctx.conn.execute(
            sa.update(installments)
            .where(i.installment_id == installment_id)
            .values(
                paid_principal_fen=i.paid_principal_fen + row_principal,
                paid_interest_fen=i.paid_interest_fen + row_interest,
                status=sa.case((i.penalty_fen == i.paid_penalty_fen, "paid"), else_=i.status),
                paid_on=ctx.today,
            )
        )
    assert terms.fee_rate is not None
    schedule = bill_installment_schedule(
        principal + interest, terms.fee_rate, months, statement.due_date
    )
    loan_id = book_loan(
        ctx, line, principal + interest, schedule, terms, funding=Account.CONVERSION_CLEARING
    )
    if statement.due_date == ctx.today:
        _recognise_due_today(ctx, loan_id)
    _restate(ctx, line, product, statement.statement_id, statement.due_date)
    return loan_id


def _recognise_due_today(ctx: Context, loan_id: int) -> None:
    """Make the first installment's fee receivable at once when a bill converts on its due
    date: yesterday's close recognised what falls due today, before this loan existed,
    and no later close would, so the fee the restated minimum asks for would never be
    owed and its payment would leave the minimum short."""
    rows = open_rows_of(ctx.conn, installments.c.loan_id, loan_id)
    pairs, updates = recognition(rows, ctx.today)
    post_pairs(ctx.conn, pairs)
    update_frame(ctx.conn, installments, "installment_id", updates)


def _restate(ctx: Context, line: Line, product: Product, statement_id: int, due: date) -> None:
    """Recompute a statement's balance and minimum after a conversion."""
    i, ln = installments.c, loans.c
    joined = installments.join(loans, i.loan_id == ln.loan_id)
    revolving = ctx.conn.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    i.principal_fen
                    - i.paid_principal_fen
                    + i.interest_recognised_fen
                    - i.paid_interest_fen
                    + i.penalty_fen
                    - i.paid_penalty_fen
                ),
                0,
            )
        )
        .select_from(joined)
        .where(
            ln.credit_line_id == line.credit_line_id,
            ln.kind == "revolving",
            i.status == "open",
            i.billed_on.is_not(None),
        )
    ).scalar_one()
    due_installments = ctx.conn.execute(
        sa.select(
            sa.func.coalesce(
                sa.func.sum(i.principal_fen + i.fee_fen - i.paid_principal_fen - i.paid_fee_fen), 0
            )
        )
        .select_from(joined)
        .where(
            ln.credit_line_id == line.credit_line_id,
            ln.kind == "bill_installment",
            i.status == "open",
            i.due_date == due,
        )
    ).scalar_one()
    rate = rate_units(product.minimum_payment_rate)
    minimum = pl.select(half_up_accrual(pl.lit(int(revolving)), pl.lit(rate))).item()
    ctx.conn.execute(
        sa.update(statements)
        .where(statements.c.statement_id == statement_id)
        .values(
            balance_fen=int(revolving) + int(due_installments),
            minimum_fen=int(minimum) + int(due_installments) + statements.c.past_due_fen,
        )
    )


def cap_unmet_minimums(ctx: Context, line: Line) -> None:
    """After a waiver, no unmet minimum asks for more than paying everything owed now.

    A statement's minimum holds each bill installment falling due in full, fee included;
    with that fee waived and everything else paid, the minimum could never be met and
    the line would age on with nothing owed. Only then is the minimum lowered."""
    i, s = installments.c, statements.c
    owed_now = (
        sa.select(sa.func.coalesce(sa.func.sum(owed()), 0))
        .select_from(installments.join(loans, i.loan_id == loans.c.loan_id))
        .where(
            loans.c.credit_line_id == line.credit_line_id,
            loans.c.status == "active",
            i.status == "open",
        )
        .scalar_subquery()
    )
    ctx.conn.execute(
        sa.update(statements)
        .where(
            s.credit_line_id == line.credit_line_id,
            s.paid_fen < s.minimum_fen,
            s.minimum_fen - s.paid_fen > owed_now,
            ~carried_by_plan(),
        )
        .values(minimum_fen=s.paid_fen + owed_now)
    )


def record_payment(ctx: Context, line: Line, cash_fen: int) -> None:
    """Count a payment towards the latest statement and every earlier one still unmet.

    An unmet minimum is carried into the next statement's minimum, so the same
    money rightly counts for both; this is what lets one payment cure a chain.
    """
    s = statements.c
    latest = ctx.conn.execute(
        sa.select(sa.func.max(s.statement_date)).where(s.credit_line_id == line.credit_line_id)
    ).scalar_one_or_none()
    if latest is None:
        return
    before = late_statements_of(ctx.conn, loans.c.credit_line_id, line.credit_line_id, ctx.today)
    ctx.conn.execute(
        sa.update(statements)
        .where(
            s.credit_line_id == line.credit_line_id,
            sa.or_(s.statement_date == latest, s.paid_fen < s.minimum_fen),
            ~carried_by_plan(),
        )
        .values(paid_fen=s.paid_fen + cash_fen)
    )
    after = late_statements_of(ctx.conn, loans.c.credit_line_id, line.credit_line_id, ctx.today)
    if not before.is_empty() and after.is_empty():
        _cure(ctx, line, before.row(0, named=True))


def _cure(ctx: Context, line: Line, late: dict[str, object]) -> None:
    """Minimum met: within grace the held interest is charged; the held fee is dropped."""
    since = late["delinquent_from"]
    assert isinstance(since, date)
    cycle = cycle_of(ctx, line)
    in_grace = (ctx.today - since).days <= int(str(late["grace_days"]))
    if in_grace and cycle.shadow_interest_fen > 0:
        amount = cycle.shadow_interest_fen
        post_entries(
            ctx.conn,
            [
                line_entry(
                    ctx,
                    line,
                    "revolving_interest",
                    cycle.loan_id,
                    (
                        Leg(Account.INTEREST_RECEIVABLE, amount),
                        Leg(Account.INTEREST_INCOME, -amount),
                    ),
                )
            ],
        )
        add_to(
            ctx.conn,
            installments.c.installment_id,
            cycle.installment_id,
            interest_fen=amount,
            interest_recognised_fen=amount,
        )
    ctx.conn.execute(
        sa.update(installments)
        .where(installments.c.loan_id == cycle.loan_id)
        .values(shadow_interest_fen=0, shadow_penalty_fen=0)
    )
    if in_grace:
        emit(
            ctx.conn,
            [
                Event(
                    line.borrower_id,
                    line.shard,
                    ctx.today,
                    "paid_in_grace",
                    line.product,
                    line.credit_line_id,
                    cycle.loan_id,
                    {
                        "due_date": since.isoformat(),
                        "interest_charged": format_fen(cycle.shadow_interest_fen),
                    },
                )
            ],
        )
