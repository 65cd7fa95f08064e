"""``ledger check``: the trial balance and the sub-ledger reconciliation.

The journal is the truth and the state tables are a fast view of it; this
check proves they agree. For every loan, each receivable account's journal
balance must equal what the installments say is owed: principal not yet
repaid, interest and fees recognised but unpaid, penalty accrued but unpaid;
and a revolving loan's credit balance must equal what the journal holds for
the borrower in ``borrower_credit``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT, Account
from crossline.store.bulk import read_frame
from crossline.store.schema import installments, journal, loans

SHOWN = 20
"""How many unbalanced entries and mismatches a report lists."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A loan whose sub-ledger disagrees with its journal postings for one account."""

    loan_id: int
    account: str
    journal_fen: int
    subledger_fen: int


@dataclass(slots=True)
class LedgerCheck:
    """What the check found."""

    lines: int = 0
    entries: int = 0
    total_fen: int = 0
    unbalanced_entries: list[int] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        """True when the journal sums to zero, every entry balances and every loan reconciles."""
        return self.total_fen == 0 and not self.unbalanced_entries and not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        """The findings as ``crossline ledger check`` prints them and the API answers them:
        the first 20 unbalanced entries and mismatches, enough to start looking."""
        return {
            "balanced": self.balanced,
            "journal_lines": self.lines,
            "entries": self.entries,
            "total_fen": self.total_fen,
            "unbalanced_entries": self.unbalanced_entries[:SHOWN],
            "mismatches": [asdict(m) for m in self.mismatches[:SHOWN]],
        }


def _subledger(conn: sa.Connection) -> pl.DataFrame:
    live = installments.c.status != "written_off"

    def owed(total: sa.ColumnElement[int], paid: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((live, total - paid), else_=0)), 0)

    i = installments.c
    statement = sa.select(
        i.loan_id,
        owed(i.principal_fen, i.paid_principal_fen).label("principal"),
        owed(i.interest_recognised_fen, i.paid_interest_fen).label("interest"),
        owed(i.fee_recognised_fen, i.paid_fee_fen).label("fee"),
        owed(i.penalty_fen, i.paid_penalty_fen).label("penalty"),
    ).group_by(i.loan_id)
    schema = pl.Schema(
        {c: pl.Int64() for c in ("loan_id", "principal", "interest", "fee", "penalty")}
    )
    wide = read_frame(conn, statement, schema)
    receivables = (
        wide.unpivot(index="loan_id", variable_name="component", value_name="subledger_fen")
        .with_columns(
            pl.col("component")
            .replace_strict({k: v.value for k, v in RECEIVABLE_BY_COMPONENT.items()})
            .alias("account")
        )
        .drop("component")
    )
    credits = read_frame(
        conn,
        sa.select(loans.c.loan_id, -loans.c.credit_fen).where(loans.c.credit_fen != 0),
        pl.Schema({"loan_id": pl.Int64(), "subledger_fen": pl.Int64()}),
    ).with_columns(pl.lit(Account.BORROWER_CREDIT.value).alias("account"))
    return pl.concat([receivables, credits])


def _journal_by_loan(conn: sa.Connection) -> pl.DataFrame:
    receivables = [a.value for a in RECEIVABLE_BY_COMPONENT.values()]
    receivables.append(Account.BORROWER_CREDIT.value)
    statement = (
        sa.select(journal.c.loan_id, journal.c.account, sa.func.sum(journal.c.amount_fen))
        .where(journal.c.loan_id.is_not(None), journal.c.account.in_(receivables))
        .group_by(journal.c.loan_id, journal.c.account)
    )
    schema = pl.Schema({"loan_id": pl.Int64(), "account": pl.String(), "journal_fen": pl.Int64()})
    return read_frame(conn, statement, schema)


def check_ledger(conn: sa.Connection) -> LedgerCheck:
    """Run every check and report all findings rather than stopping at the first."""
    result = LedgerCheck()
    totals = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count(sa.distinct(journal.c.entry_id)),
            sa.func.coalesce(sa.func.sum(journal.c.amount_fen), 0),
        )
    ).one()
    result.lines, result.entries, result.total_fen = int(totals[0]), int(totals[1]), int(totals[2])
    result.unbalanced_entries = [
        int(r[0])
        for r in conn.execute(
            sa.select(journal.c.entry_id)
            .group_by(journal.c.entry_id)
            .having(sa.func.sum(journal.c.amount_fen) != 0)
        )
    ]
    compared = (
        _subledger(conn)
        .join(_journal_by_loan(conn), on=["loan_id", "account"], how="full", coalesce=True)
        .with_columns(pl.col("subledger_fen", "journal_fen").fill_null(0))
    )
    for row in compared.filter(pl.col("subledger_fen") != pl.col("journal_fen")).iter_rows(
        named=True
    ):
        result.mismatches.append(
            Mismatch(row["loan_id"], row["account"], row["journal_fen"], row["subledger_fen"])
        )
    return result
