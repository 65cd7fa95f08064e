"""Repayments: the waterfall over due installments, grace cures and prepayment.

One call is one payment by one borrower on one line, posted in the caller's
transaction: a reversal entry for penalty cured within grace, the recognition
of interest accrued to a prepayment date, and one repayment entry per loan.
The borrower is re-aged right afterwards with the kernel end-of-day uses, so a
cure is visible (and emitted) the moment it happens.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import polars as pl
import sqlalchemy as sa

from crossline.calendar import add_months, days_between
from crossline.catalog import Product
from crossline.events.notifications import notify
from crossline.events.outbox import Event, emit, write_events
from crossline.kernels.frames import ROW_SCHEMA
from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT, Account
from crossline.ledger.journal import Entry, Leg, post_entries
from crossline.money import accrue, format_fen
from crossline.servicing.allocation import COMPONENTS, Owed, allocate
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import Line, catalog_product, get_line, line_entry
from crossline.servicing.plans import complete_plans
from crossline.servicing.prepayment import reshape_cash_loan
from crossline.servicing.recoveries import book_recovery, open_recovery
from crossline.servicing.refresh import refresh_borrower
from crossline.servicing.revolving import record_payment
from crossline.servicing.rows import open_rows_of
from crossline.servicing.schedules import split_evenly
from crossline.store.bulk import update_frame
from crossline.store.schema import installments, journal, loans

AmountSpec = int | Literal["all_due", "all"]

_ROW_UPDATE_SCHEMA = pl.Schema(
    {
        **{c: ROW_SCHEMA[c] for c in ROW_SCHEMA if c.endswith("_fen") or c == "installment_id"},
        "status": pl.String(),
        "paid_on": pl.Date(),
    }
)
"""What a repayment may change on an installment: its amounts, status and paid date."""


@dataclass(slots=True)
class RepaymentResult:
    """What a payment did, for the caller to show."""

    amount_fen: int
    allocated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))
    penalty_reversed_fen: int = 0
    credit_applied_fen: int = 0
    credit_added_fen: int = 0
    loans_paid_off: list[int] = field(default_factory=list)
    recovered_fen: int = 0
    """Paid on loans already written off: recovery income, not a receivable."""

    def as_dict(self) -> dict[str, Any]:
        """Money as strings, for JSON."""
        return {
            "amount": format_fen(self.amount_fen),
            "allocated": {k: format_fen(v) for k, v in self.allocated.items()},
            "penalty_reversed": format_fen(self.penalty_reversed_fen),
            "credit_applied": format_fen(self.credit_applied_fen),
            "credit_added": format_fen(self.credit_added_fen),
            "loans_paid_off": self.loans_paid_off,
            "recovered": format_fen(self.recovered_fen),
        }


@dataclass(frozen=True, slots=True)
class _Loan:
    kind: str
    method: str | None
    daily_rate_units: int | None
    opened_on: date
    credit_fen: int


@dataclass(slots=True)
class _Book:
    """One line's open installments and loans, changed in memory and written once."""

    ctx: Context
    line: Line
    product: Product
    rows: list[dict[str, Any]]
    loans: dict[int, _Loan]
    cash: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    reallocated: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    credit_used: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    credit_added: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    credited: dict[int, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    entries: list[Entry] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)

    def entry(self, event: str, loan_id: int, legs: tuple[Leg, ...]) -> None:
        self.entries.append(line_entry(self.ctx, self.line, event, loan_id, legs))

    def due_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["due_date"] <= self.ctx.today]

    def future_rows(self, loan_id: int) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["loan_id"] == loan_id and r["due_date"] > self.ctx.today]


def owed(row: dict[str, Any], component: str) -> int:
    """What a row still asks for in one component (interest and fees once recognised)."""
    total = {
        "principal": row["principal_fen"],
        "interest": row["interest_recognised_fen"],
        "fee": row["fee_recognised_fen"],
        "penalty": row["penalty_fen"],
    }[component]
    return int(total) - int(row[f"paid_{component}_fen"])


def _in_grace(book: _Book, row: dict[str, Any]) -> bool:
    """An installment paid within grace has its provisional penalty reversed.

    Revolving rows are excluded: their grace charges are never posted, only
    held (kernels.revolving), so there is nothing to reverse.
    """
    late = days_between(row["due_date"], book.ctx.today)
    return (
        row["loan_kind"] != "revolving"
        and 0 < late <= int(row["grace_days"])
        and int(row["penalty_fen"]) > 0
    )


def _is_cycle(row: dict[str, Any]) -> bool:
    """The open cycle of a revolving loan: it stays open whatever is paid on it."""
    return bool(row["loan_kind"] == "revolving" and row["billed_on"] is None)


def _pay_row(
    book: _Book, row: dict[str, Any], funds: int, source: dict[int, int] | None = None
) -> int:
    """Apply funds to one row; returns the funds left. Cures within grace first.

    ``source`` counts where the money came from: cash (default) or the
    borrower's credit balance.
    """
    extra = 0
    if _in_grace(book, row):
        needed = sum(owed(row, c) for c in ("principal", "interest", "fee"))
        if funds + int(row["paid_penalty_fen"]) >= needed:
            extra = _reverse_grace_penalty(book, row)
    allocation, left = allocate(
        funds + extra, [Owed(0, {c: owed(row, c) for c in COMPONENTS})], book.product.waterfall
    )
    for component, amount in allocation.get(0, {}).items():
        row[f"paid_{component}_fen"] += amount
        book.credited[row["loan_id"]][component] += amount
    (book.cash if source is None else source)[row["loan_id"]] += funds - left
    book.touched.add(row["installment_id"])
    return left


def _reverse_grace_penalty(book: _Book, row: dict[str, Any]) -> int:
    """Paid in full within grace counts as on time: the grace penalty is reversed.

    Penalty already paid is not refunded in cash; it is re-applied to the
    installment's other components, which is what the returned amount is for.
    """
    accrued, already_paid = int(row["penalty_fen"]), int(row["paid_penalty_fen"])
    book.entry(
        "penalty_reversal",
        row["loan_id"],
        (Leg(Account.PENALTY_INCOME, accrued), Leg(Account.PENALTY_RECEIVABLE, -accrued)),
    )
    book.reallocated[row["loan_id"]] += already_paid
    row["penalty_fen"] = 0
    row["paid_penalty_fen"] = 0
    book.touched.add(row["installment_id"])
    return already_paid


def _period_start(book: _Book, loan_id: int, current: dict[str, Any]) -> date:
    """Start of the interest period not yet recognised: the previous due date or the last
    prepayment in this period, whichever is later."""
    loan = book.loans[loan_id]
    seq = int(current["seq"])
    previous_due = loan.opened_on if seq == 1 else add_months(loan.opened_on, seq - 1)
    last = book.ctx.conn.execute(
        sa.select(sa.func.max(journal.c.business_date)).where(
            journal.c.loan_id == loan_id, journal.c.event == "prepayment_interest"
        )
    ).scalar_one_or_none()
    return max(previous_due, last) if last is not None else previous_due


def _accrued_to_today(book: _Book, loan_id: int) -> int:
    future = book.future_rows(loan_id)
    loan = book.loans[loan_id]
    if not future or loan.kind != "cash_loan" or loan.daily_rate_units is None:
        return 0
    outstanding = sum(owed(r, "principal") for r in future)
    days = days_between(_period_start(book, loan_id, future[0]), book.ctx.today)
    return accrue(outstanding, loan.daily_rate_units, days)


def _pay_ahead(book: _Book, future: list[dict[str, Any]], funds: int) -> int:
    """Revolving balances not yet due are paid as they stand, oldest statement first."""
    for row in future:
        if funds == 0:
            break
        funds = _pay_row(book, row, funds)
    return funds


def _prepay_loan(book: _Book, loan_id: int, funds: int) -> int:
    """Prepay one loan: interest accrued to today, then principal; reshape what remains."""
    future = book.future_rows(loan_id)
    if not future or funds == 0:
        return funds
    if book.loans[loan_id].kind == "revolving":
        return _pay_ahead(book, future, funds)
    current = future[0]
    accrued = _accrued_to_today(book, loan_id)
    if accrued:
        book.entry(
            "prepayment_interest",
            loan_id,
            (Leg(Account.INTEREST_RECEIVABLE, accrued), Leg(Account.INTEREST_INCOME, -accrued)),
        )
        current["interest_recognised_fen"] += accrued
    interest_paid = min(funds, owed(current, "interest"))
    current["paid_interest_fen"] += interest_paid
    book.credited[loan_id]["interest"] += interest_paid
    fee_paid = _pay_recognised_fees(book, future, funds - interest_paid)
    outstanding = sum(owed(r, "principal") for r in future)
    principal_paid = min(funds - interest_paid - fee_paid, outstanding)
    book.cash[loan_id] += interest_paid + fee_paid + principal_paid
    book.credited[loan_id]["principal"] += principal_paid
    _reshape(book, loan_id, future, outstanding - principal_paid, principal_paid)
    return funds - interest_paid - fee_paid - principal_paid


def _pay_recognised_fees(book: _Book, future: list[dict[str, Any]], funds: int) -> int:
    """Fees already recognised on rows not yet due (an extension's fee) are owed now, so a
    prepayment pays them before principal; returns what it paid."""
    paid = 0
    for row in future:
        amount = min(funds - paid, owed(row, "fee"))
        if amount > 0:
            row["paid_fee_fen"] += amount
            book.credited[row["loan_id"]]["fee"] += amount
            book.touched.add(row["installment_id"])
            paid += amount
    return paid


def _reshape(
    book: _Book, loan_id: int, future: list[dict[str, Any]], left: int, principal_paid: int
) -> None:
    """Spread the principal left over the remaining rows; the first row records the prepayment."""
    loan = book.loans[loan_id]
    first = future[0]
    paid_before = [int(r["paid_principal_fen"]) for r in future]
    if loan.kind == "cash_loan" and loan.method is not None and loan.daily_rate_units is not None:
        shapes = reshape_cash_loan(
            left,
            loan.daily_rate_units,
            loan.method,
            book.ctx.today,
            [r["due_date"] for r in future],
        )
        shares = [s.principal for s in shapes]
        interests = [s.interest for s in shapes]
        interests[0] += int(first["interest_recognised_fen"])
    else:
        shares = split_evenly(left, len(future)) if left else [0] * len(future)
        interests = [int(r["interest_fen"]) for r in future]
    for index, row in enumerate(future):
        row["principal_fen"] = shares[index] + paid_before[index]
        row["interest_fen"] = interests[index] if left else int(row["interest_recognised_fen"])
        if not left:
            row["fee_fen"] = int(row["fee_recognised_fen"])
        book.touched.add(row["installment_id"])
    first["principal_fen"] += principal_paid
    first["paid_principal_fen"] += principal_paid


def _due_total(book: _Book) -> int:
    """What the due rows ask for, less penalty that paying them in grace would reverse."""
    total = 0
    for row in book.due_rows():
        total += sum(owed(row, c) for c in COMPONENTS)
        if _in_grace(book, row):
            total -= owed(row, "penalty") + int(row["paid_penalty_fen"])
    return total


def payoff_fen(book: _Book) -> int:
    """Everything the line owes today: the due rows, interest accrued to today and all
    principal (and recognised interest) not yet due."""
    total = _due_total(book)
    for loan_id in book.loans:
        future = book.future_rows(loan_id)
        total += _accrued_to_today(book, loan_id)
        total += sum(owed(r, "principal") + owed(r, "interest") + owed(r, "fee") for r in future)
    return total


def all_due_fen(book: _Book) -> int:
    """What is due today or overdue."""
    return max(_due_total(book), 0)


def load_book(ctx: Context, line: Line) -> _Book:
    """The line's open installments and active loans: what a payment, or a waiver
    (``servicing.waivers``), changes in memory before ``close_settled`` writes them."""
    rows = open_rows_of(ctx.conn, loans.c.credit_line_id, line.credit_line_id).sort(
        "due_date", "loan_id", "seq"
    )
    loan_rows = ctx.conn.execute(
        sa.select(
            loans.c.loan_id,
            loans.c.kind,
            loans.c.method,
            loans.c.daily_rate_units,
            loans.c.opened_on,
            loans.c.credit_fen,
        )
        .where(loans.c.credit_line_id == line.credit_line_id, loans.c.status == "active")
        .order_by(loans.c.loan_id)
    ).all()
    return _Book(
        ctx=ctx,
        line=line,
        product=catalog_product(ctx, line.product),
        rows=[{**r, "status": "open", "paid_on": None} for r in rows.iter_rows(named=True)],
        loans={int(r[0]): _Loan(r[1], r[2], r[3], r[4], r[5]) for r in loan_rows},
    )


def _revolving_loan(book: _Book) -> int | None:
    return next((k for k, v in book.loans.items() if v.kind == "revolving"), None)


def _apply_credit(book: _Book) -> None:
    """A credit balance pays the revolving rows first, oldest first (DOMAIN §2 waterfall)."""
    loan_id = _revolving_loan(book)
    if loan_id is None:
        return
    credit = book.loans[loan_id].credit_fen
    for row in (r for r in book.rows if r["loan_id"] == loan_id):
        if credit == 0:
            break
        credit = _pay_row(book, row, credit, source=book.credit_used)


def _resolve_amount(book: _Book, amount: AmountSpec, written_off_fen: int) -> int:
    """The cash to allocate: capped at the payoff, except that a revolving line may be
    overpaid (the rest becomes a credit balance) by at most its limit, unless it is
    closed: a closed line could never spend the credit.

    What was written off and not yet recovered is owed and due in full: a write-off
    does not forgive the debt (``servicing.recoveries``)."""
    if amount == "all":
        funds = payoff_fen(book) + written_off_fen
    elif amount == "all_due":
        funds = all_due_fen(book) + written_off_fen
    else:
        funds = amount
        if funds <= 0:
            raise InputError("amount", "expected a positive amount, 'all_due' or 'all'")
        payoff = payoff_fen(book) + written_off_fen
        if _revolving_loan(book) is not None and book.line.status != "closed":
            payoff += book.line.limit_fen
        if funds > payoff:
            raise RefusedError(
                "exceeds_payoff",
                f"amount {format_fen(funds)} exceeds everything owed ({format_fen(payoff)})",
            )
    if funds <= 0:
        raise RefusedError(
            "nothing_owed",
            f"nothing is {'due' if amount == 'all_due' else 'owed'} "
            f"on the {book.line.product} line",
        )
    return funds


def _post(book: _Book, result: RepaymentResult) -> None:
    moved = set(book.cash) | set(book.reallocated) | set(book.credit_used) | set(book.credit_added)
    for loan_id in sorted(moved):
        credits = book.credited[loan_id]
        added, used = book.credit_added[loan_id], book.credit_used[loan_id]
        legs = [
            Leg(Account.SETTLEMENT, book.cash[loan_id] + added),
            Leg(Account.BORROWER_CREDIT, used - added),
        ]
        if book.reallocated[loan_id]:
            legs.append(Leg(Account.PENALTY_RECEIVABLE, book.reallocated[loan_id]))
        legs += [Leg(RECEIVABLE_BY_COMPONENT[c], -credits[c]) for c in COMPONENTS if credits[c]]
        book.entry("repayment", loan_id, tuple(legs))
        for component in COMPONENTS:
            result.allocated[component] += credits[component]
    result.penalty_reversed_fen = sum(
        leg.amount_fen
        for e in book.entries
        if e.event == "penalty_reversal"
        for leg in e.legs
        if leg.account == Account.PENALTY_INCOME
    )
    for loan_id in set(book.credit_used) | set(book.credit_added):
        change = book.credit_added[loan_id] - book.credit_used[loan_id]
        book.ctx.conn.execute(
            sa.update(loans)
            .where(loans.c.loan_id == loan_id)
            .values(credit_fen=loans.c.credit_fen + change)
        )
    result.credit_applied_fen = sum(book.credit_used.values())
    result.credit_added_fen = sum(book.credit_added.values())


def close_settled(book: _Book, result: RepaymentResult) -> list[Event]:
    """Mark settled rows paid (or cancelled when a payoff left them empty) and loans paid
    off; return the paid-off events."""
    for row in book.rows:
        settled = all(owed(row, c) == 0 for c in COMPONENTS) and (
            row["due_date"] <= book.ctx.today
            or (
                int(row["interest_fen"]) == int(row["interest_recognised_fen"])
                and int(row["fee_fen"]) == int(row["fee_recognised_fen"])
            )
        )
        if settled and row["status"] == "open" and not _is_cycle(row):
            row["status"] = "paid"
            row["paid_on"] = book.ctx.today
            book.touched.add(row["installment_id"])
    updates = [r for r in book.rows if r["installment_id"] in book.touched]
    update_frame(
        book.ctx.conn,
        installments,
        "installment_id",
        pl.DataFrame(
            [{k: r[k] for k in _ROW_UPDATE_SCHEMA} for r in updates], schema=_ROW_UPDATE_SCHEMA
        ),
    )
    for loan_id, loan in book.loans.items():
        rows = [r for r in book.rows if r["loan_id"] == loan_id]
        if loan.kind != "revolving" and rows and all(r["status"] == "paid" for r in rows):
            book.ctx.conn.execute(
                sa.update(loans)
                .where(loans.c.loan_id == loan_id)
                .values(status="paid_off", closed_on=book.ctx.today)
            )
            result.loans_paid_off.append(loan_id)
    return [
        Event(
            book.line.borrower_id,
            book.line.shard,
            book.ctx.today,
            "loan_paid_off",
            book.line.product,
            book.line.credit_line_id,
            loan_id,
            {},
        )
        for loan_id in result.loans_paid_off
    ]


def repay(ctx: Context, borrower_id: str, product_id: str, amount: AmountSpec) -> RepaymentResult:
    """Take a payment on the borrower's line for ``product_id``."""
    line = get_line(ctx, borrower_id, product_id)
    book = load_book(ctx, line)
    recovery = open_recovery(ctx, line, book.product.waterfall)
    _apply_credit(book)
    funds = _resolve_amount(book, amount, recovery.owed_fen())
    result = RepaymentResult(amount_fen=funds)
    # What was written off is the oldest debt on the line: it is recovered first.
    funds = recovery.take(funds)
    result.recovered_fen = recovery.total_fen
    for row in book.due_rows():
        funds = _pay_row(book, row, funds)
    for loan_id in book.loans:
        funds = _prepay_loan(book, loan_id, funds)
    revolving = _revolving_loan(book)
    if funds and revolving is not None:
        book.credit_added[revolving] += funds
    elif funds:  # pragma: no cover - _resolve_amount caps the amount at the payoff
        raise RefusedError("unallocated", f"{format_fen(funds)} could not be allocated")
    _post(book, result)
    paid_off = close_settled(book, result)
    if line.kind == "revolving":
        record_payment(
            ctx, line, result.amount_fen - result.recovered_fen + result.credit_applied_fen
        )
    recovery_entries, recovery_events, recovery_notices = book_recovery(ctx, line, recovery)
    aged = refresh_borrower(ctx, borrower_id)
    repaid = Event(
        line.borrower_id,
        line.shard,
        ctx.today,
        "repaid",
        line.product,
        line.credit_line_id,
        payload={"amount": format_fen(result.amount_fen)},
    )
    # Numbered last: taking journal and event numbers holds their counters until commit,
    # which every other command's postings wait for (store.ids).
    post_entries(ctx.conn, recovery_entries + book.entries)
    emit(ctx.conn, paid_off)
    write_events(ctx.conn, aged)
    emit(ctx.conn, [*recovery_events, repaid])
    notify(ctx.conn, recovery_notices)
    complete_plans(ctx, line, result.loans_paid_off)
    return result
