"""Posting to the append-only journal.

Two ways in, one format out: services post a handful of multi-leg entries
(``post_entries``); end-of-day kernels post whole frames of two-leg accruals
(``post_pairs``). Both refuse an entry that does not balance before anything
is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.kernels.frames import PAIR_SCHEMA
from crossline.ledger.accounts import Account
from crossline.store.bulk import insert_frame, insert_rows
from crossline.store.ids import allocate_ids
from crossline.store.schema import journal

JOURNAL_SCHEMA = pl.Schema(
    {
        "entry_id": pl.Int64(),
        "line_no": pl.Int16(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "business_date": pl.Date(),
        "event": pl.String(),
        "credit_line_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "account": pl.String(),
        "amount_fen": pl.Int64(),
        "basis_fen": pl.Int64(),
    }
)


class UnbalancedEntryError(ValueError):
    """An entry whose legs do not sum to zero."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One line of an entry: positive amounts debit the account, negative credit it."""

    account: Account
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A balanced set of legs recorded together for one loan (or line) event."""

    borrower_id: str
    shard: int
    business_date: date
    event: str
    credit_line_id: int
    loan_id: int | None
    legs: tuple[Leg, ...]
    basis_fen: int | None = None

    def nonzero_legs(self) -> tuple[Leg, ...]:
        """Legs that move money; zero legs carry no information and are not stored."""
        return tuple(leg for leg in self.legs if leg.amount_fen != 0)


def post_entries(conn: sa.Connection, entries: list[Entry]) -> int:
    """Validate and append entries; returns the number of journal lines written."""
    kept = [e for e in entries if e.nonzero_legs()]
    for entry in kept:
        total = sum(leg.amount_fen for leg in entry.legs)
        if total != 0:
            raise UnbalancedEntryError(
                f"entry {entry.event} for loan {entry.loan_id} is off by {total} fen"
            )
    if not kept:
        return 0
    first = allocate_ids(conn, "journal_entry", len(kept))
    rows = [
        (
            first + index,
            line_no,
            entry.borrower_id,
            entry.shard,
            entry.business_date,
            entry.event,
            entry.credit_line_id,
            entry.loan_id,
            leg.account.value,
            leg.amount_fen,
            entry.basis_fen,
        )
        for index, entry in enumerate(kept)
        for line_no, leg in enumerate(entry.nonzero_legs(), start=1)
    ]
    insert_rows(conn, journal, list(JOURNAL_SCHEMA), rows)
    return len(rows)


def concat_pairs(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack pair frames from several rules into one ``PAIR_SCHEMA`` frame (empty ones allowed)."""
    kept = [f.select(list(PAIR_SCHEMA)).cast(PAIR_SCHEMA) for f in frames if not f.is_empty()]
    return pl.concat(kept) if kept else pl.DataFrame(schema=PAIR_SCHEMA)


def post_pairs(conn: sa.Connection, pairs: pl.DataFrame) -> int:
    """Append one two-leg entry per row of ``pairs`` (see ``PAIR_SCHEMA``).

    Rows are sorted first so that entry ids do not depend on the order a
    kernel or the database produced them in: a rerun numbers them the same.

    Rows with a zero amount are dropped; a negative amount is refused because
    a reversal must say so by swapping its accounts, not by its sign.
    """
    pairs = pairs.filter(pl.col("amount_fen") != 0).sort(
        "borrower_id", "loan_id", "event", "debit", "credit", maintain_order=True
    )
    if pairs.is_empty():
        return 0
    if (pairs["amount_fen"] < 0).any():
        raise UnbalancedEntryError("two-leg entries need positive amounts")
    first = allocate_ids(conn, "journal_entry", pairs.height)
    base = pairs.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + first).alias("entry_id"))
    common = [
        "entry_id",
        "borrower_id",
        "shard",
        "business_date",
        "event",
        "credit_line_id",
        "loan_id",
    ]
    debits = base.select(
        *common,
        pl.lit(1, pl.Int16).alias("line_no"),
        pl.col("debit").alias("account"),
        pl.col("amount_fen"),
        pl.col("basis_fen"),
    )
    credits = base.select(
        *common,
        pl.lit(2, pl.Int16).alias("line_no"),
        pl.col("credit").alias("account"),
        (-pl.col("amount_fen")).alias("amount_fen"),
        pl.col("basis_fen"),
    )
    lines = (
        pl.concat([debits, credits])
        .select(list(JOURNAL_SCHEMA))
        .cast(JOURNAL_SCHEMA)
        .sort(["entry_id", "line_no"])
    )
    return insert_frame(conn, journal, lines)
