"""Recoveries: money received on a loan already written off (DOMAIN §2: income).

The write-off took the loan's receivables to write-off expense, so a later
payment has no receivable left to credit: it is booked as recovery income
(debit settlement, credit ``recovery_income``). The written-off installments
keep what they owed on the day of the write-off; what is recovered is counted
in their paid columns, oldest first in the product's waterfall, so what is
still to recover is read from the rows themselves. ``ledger check`` leaves
written-off rows out of the sub-ledger, so those columns count recoveries only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.events.notifications import Notice
from crossline.events.outbox import Event
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Entry, Leg
from crossline.money import format_fen
from crossline.servicing.allocation import COMPONENTS, Owed, allocate
from crossline.servicing.context import Context
from crossline.servicing.lines import Line, line_entry
from crossline.store.bulk import update_frame
from crossline.store.schema import installments, loans

WRITTEN_OFF = "written_off"

_TOTAL_COLUMN = {
    "principal": "principal_fen",
    "interest": "interest_recognised_fen",
    "fee": "fee_recognised_fen",
    "penalty": "penalty_fen",
}
"""What a written-off row owed of each component: what the write-off posted."""

_PAID_SCHEMA = pl.Schema(
    {"installment_id": pl.Int64(), **{f"paid_{c}_fen": pl.Int64() for c in COMPONENTS}}
)


def _owed(row: dict[str, Any], component: str) -> int:
    return int(row[_TOTAL_COLUMN[component]]) - int(row[f"paid_{component}_fen"])


@dataclass(slots=True)
class Recovery:
    """A line's written-off installments, oldest first, and what a payment recovers."""

    rows: list[dict[str, Any]]
    waterfall: Sequence[str]
    recovered: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    touched: set[int] = field(default_factory=set)

    def owed_fen(self) -> int:
        """Everything written off on the line and not yet recovered."""
        return sum(_owed(r, c) for r in self.rows for c in COMPONENTS)

    def take(self, funds: int) -> int:
        """Recover what ``funds`` cover, oldest row first; returns the funds left."""
        owed = [Owed(i, {c: _owed(r, c) for c in COMPONENTS}) for i, r in enumerate(self.rows)]
        allocation, left = allocate(funds, owed, self.waterfall)
        for index, paid in allocation.items():
            row = self.rows[index]
            self.touched.add(index)
            for component, amount in paid.items():
                row[f"paid_{component}_fen"] += amount
                self.recovered[int(row["loan_id"])] += amount
        return left

    @property
    def total_fen(self) -> int:
        """What this payment recovered."""
        return sum(self.recovered.values())


def open_recovery(ctx: Context, line: Line, waterfall: Sequence[str]) -> Recovery:
    """The line's written-off installments (of written-off loans), oldest first."""
    i = installments.c
    statement = (
        sa.select(
            i.installment_id,
            i.loan_id,
            *(i[column] for column in _TOTAL_COLUMN.values()),
            *(i[f"paid_{c}_fen"] for c in COMPONENTS),
        )
        .select_from(installments.join(loans, i.loan_id == loans.c.loan_id))
        .where(
            loans.c.credit_line_id == line.credit_line_id,
            loans.c.status == WRITTEN_OFF,
            i.status == WRITTEN_OFF,
        )
        .order_by(i.due_date, i.loan_id, i.seq)
    )
    rows = [dict(r) for r in ctx.conn.execute(statement).mappings()]
    return Recovery(rows=rows, waterfall=waterfall)


def book_recovery(
    ctx: Context, line: Line, recovery: Recovery
) -> tuple[list[Entry], list[Event], list[Notice]]:
    """Write the recovered amounts on the rows; return the income entries (one per loan),
    the ``recovery_received`` event and the borrower's notification, for the caller to
    number with its own."""
    if not recovery.total_fen:
        return [], [], []
    touched = [recovery.rows[index] for index in sorted(recovery.touched)]
    update_frame(
        ctx.conn,
        installments,
        "installment_id",
        pl.DataFrame([{k: r[k] for k in _PAID_SCHEMA} for r in touched], schema=_PAID_SCHEMA),
    )
    entries = [
        line_entry(
            ctx,
            line,
            "recovery",
            loan_id,
            (Leg(Account.SETTLEMENT, amount), Leg(Account.RECOVERY_INCOME, -amount)),
        )
        for loan_id, amount in sorted(recovery.recovered.items())
    ]
    payload = {
        "amount": format_fen(recovery.total_fen),
        "remaining": format_fen(recovery.owed_fen()),
    }
    event = Event(
        line.borrower_id,
        line.shard,
        ctx.today,
        "recovery_received",
        line.product,
        line.credit_line_id,
        payload=payload,
    )
    notice = Notice(
        line.borrower_id,
        line.shard,
        ctx.today,
        "recovery_received",
        payload,
        line.product,
        line.credit_line_id,
    )
    return entries, [event], [notice]
