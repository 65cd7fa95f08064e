"""Auto-debit: what falls due on a line is taken from the borrower's linked account.

A borrower links an account to a line (``enable_autodebit``) with the balance it
holds; the platform stores only that balance, no account number. End-of-day on the
due date D attempts to debit everything due on the line, ``min(due, available)``,
through ``repay`` like any payment; a failed or partial attempt is retried at the
close of D+1 and D+2 (every date is a business date in crossline): three attempts
in all, then the line follows the overdue path like any other. The debit runs first
in a partition's close, before the day's penalty and ageing: the amount due on D was
recognised by D−1's close, and a debit on D counts exactly as a payment by hand on
D would. Each attempt is a row keyed (line, due date, attempt), written in the
partition's transaction with its payment and notification, so a resumed close makes
each attempt once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog
from crossline.events.notifications import Notice, notify
from crossline.money import format_fen
from crossline.servicing.balances import owed
from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import get_line
from crossline.servicing.repayment import repay
from crossline.store import platform
from crossline.store.bulk import read_frame
from crossline.store.schema import (
    OPEN,
    autodebit_attempts,
    credit_lines,
    installments,
    linked_accounts,
    loans,
)

ATTEMPTS = 3
"""The attempt on the due date and two retries, on the next two business dates."""


def enable_autodebit(
    ctx: Context, borrower_id: str, product_id: str, balance_fen: int
) -> dict[str, Any]:
    """Link an account holding ``balance_fen`` to the borrower's line; refused if one is
    linked already (``set_account_balance`` changes its balance)."""
    line = get_line(ctx, borrower_id, product_id)
    if line.status == "closed":
        raise RefusedError("line_closed", f"the {product_id} line is closed")
    if _linked(ctx, line.credit_line_id) is not None:
        raise RefusedError(
            "autodebit_enabled", f"auto-debit is already enabled on the {product_id} line"
        )
    ctx.conn.execute(
        sa.insert(linked_accounts).values(
            credit_line_id=line.credit_line_id,
            borrower_id=borrower_id,
            shard=line.shard,
            available_fen=balance_fen,
            enabled_on=ctx.today,
        )
    )
    return {"credit_line_id": line.credit_line_id, "account_balance": format_fen(balance_fen)}


def set_account_balance(
    ctx: Context, borrower_id: str, product_id: str, balance_fen: int
) -> dict[str, Any]:
    """Set the available balance of the account linked to the line (the borrower topped
    it up, or spent from it); refused when no account is linked."""
    line = get_line(ctx, borrower_id, product_id)
    if _linked(ctx, line.credit_line_id) is None:
        raise RefusedError(
            "autodebit_not_enabled", f"auto-debit is not enabled on the {product_id} line"
        )
    ctx.conn.execute(
        sa.update(linked_accounts)
        .where(linked_accounts.c.credit_line_id == line.credit_line_id)
        .values(available_fen=balance_fen)
    )
    return {"credit_line_id": line.credit_line_id, "account_balance": format_fen(balance_fen)}


def _linked(ctx: Context, credit_line_id: int) -> int | None:
    return ctx.conn.execute(
        sa.select(linked_accounts.c.available_fen).where(
            linked_accounts.c.credit_line_id == credit_line_id
        )
    ).scalar_one_or_none()


_DUE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "available_fen": pl.Int64(),
        "due_date": pl.Date(),
        "due_fen": pl.Int64(),
    }
)
_TRIED_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "due_date": pl.Date(),
        "tried": pl.UInt32(),
        "last_tried": pl.Date(),
    }
)


def _due_lines(conn: sa.Connection, day: date, lo: int, hi: int) -> pl.DataFrame:
    """Auto-debit lines in shards [lo, hi) with money due by ``day``: everything due and
    unpaid, keyed by the latest due date (the one the attempts count for). A revolving
    line's due rows are its billed statements, as ``repay``'s ``all_due`` takes them."""
    i, a = installments.c, linked_accounts.c
    owing = owed()
    rows = (
        sa.select(
            a.credit_line_id,
            a.borrower_id,
            a.shard,
            credit_lines.c.product,
            a.available_fen,
            sa.func.max(i.due_date),
            sa.func.sum(owing),
        )
        .select_from(
            linked_accounts.join(credit_lines, credit_lines.c.credit_line_id == a.credit_line_id)
            .join(loans, loans.c.credit_line_id == a.credit_line_id)
            .join(installments, i.loan_id == loans.c.loan_id)
        )
        .where(
            a.shard >= lo,
            a.shard < hi,
            loans.c.status == "active",
            i.status == OPEN,
            i.due_date <= day,
            i.due_date >= day - timedelta(days=ATTEMPTS - 1),
            sa.or_(loans.c.kind != "revolving", i.billed_on.is_not(None)),
        )
        .group_by(a.credit_line_id, a.borrower_id, a.shard, credit_lines.c.product, a.available_fen)
    )
    latest = read_frame(conn, rows, _DUE_SCHEMA)
    if latest.is_empty():
        return latest
    everything = read_frame(
        conn,
        sa.select(loans.c.credit_line_id, sa.func.sum(owing))
        .select_from(installments.join(loans, i.loan_id == loans.c.loan_id))
        .where(
            loans.c.credit_line_id.in_(latest["credit_line_id"].to_list()),
            loans.c.status == "active",
            i.status == OPEN,
            i.due_date <= day,
            sa.or_(loans.c.kind != "revolving", i.billed_on.is_not(None)),
        )
        .group_by(loans.c.credit_line_id),
        pl.Schema({"credit_line_id": pl.Int64(), "all_due_fen": pl.Int64()}),
    )
    return (
        latest.drop("due_fen")
        .join(everything, on="credit_line_id")
        .rename({"all_due_fen": "due_fen"})
        .filter(pl.col("due_fen") > 0)
    )


def _to_attempt(conn: sa.Connection, due: pl.DataFrame, day: date) -> pl.DataFrame:
    """The lines whose next attempt is today: fewer attempts for the due date than days
    since it, none today yet (at most one a day, ``ATTEMPTS`` in all)."""
    t = autodebit_attempts.c
    tried = read_frame(
        conn,
        sa.select(t.credit_line_id, t.due_date, sa.func.count(), sa.func.max(t.business_date))
        .where(t.credit_line_id.in_(due["credit_line_id"].to_list()))
        .group_by(t.credit_line_id, t.due_date),
        _TRIED_SCHEMA,
    )
    since = (pl.lit(day, pl.Date) - pl.col("due_date")).dt.total_days()
    return (
        due.join(tried, on=["credit_line_id", "due_date"], how="left")
        .with_columns(pl.col("tried").fill_null(0).cast(pl.Int64))
        .filter(
            pl.col("tried") <= since,
            pl.col("tried") < ATTEMPTS,
            pl.col("last_tried").is_null() | (pl.col("last_tried") < day),
        )
        .with_columns((pl.col("tried") + 1).alias("attempt"))
        .sort("credit_line_id")
    )


@dataclass(frozen=True, slots=True)
class _Attempt:
    line: dict[str, Any]
    debited_fen: int
    outcome: str
    """paid (everything due is settled), partial (some was debited) or failed (none)."""


def _debit(ctx: Context, line: dict[str, Any]) -> _Attempt:
    """Take ``min(due, available)`` through ``repay``: everything due when the account
    covers it, so the payment settles exactly what ``repay`` counts as due (a penalty
    in grace it would reverse, a revolving credit balance it applies first)."""
    due, available = int(line["due_fen"]), int(line["available_fen"])
    if available == 0:
        return _Attempt(line, 0, "failed")
    covered = available >= due
    try:
        paid = repay(ctx, line["borrower_id"], line["product"], "all_due" if covered else available)
    except RefusedError as exc:
        if exc.code != "nothing_owed":
            raise
        return _Attempt(line, 0, "paid")  # a credit balance covered it
    ctx.conn.execute(
        sa.update(linked_accounts)
        .where(linked_accounts.c.credit_line_id == line["credit_line_id"])
        .values(available_fen=linked_accounts.c.available_fen - paid.amount_fen)
    )
    return _Attempt(line, paid.amount_fen, "paid" if covered else "partial")


def _notice(attempt: _Attempt, day: date) -> Notice:
    line, debited = attempt.line, attempt.debited_fen
    number = int(line["attempt"])
    payload: dict[str, Any] = {
        "due_date": line["due_date"].isoformat(),
        "attempt": number,
        "amount_due": format_fen(int(line["due_fen"])),
        "amount_debited": format_fen(debited),
    }
    kind = "autodebit_succeeded"
    if attempt.outcome != "paid":
        kind = "autodebit_failed"
        retry = day + timedelta(days=1) if number < ATTEMPTS else None
        payload |= {
            "shortfall": format_fen(int(line["due_fen"]) - debited),
            "attempts_left": ATTEMPTS - number,
            "next_attempt": None if retry is None else retry.isoformat(),
        }
    return Notice(
        line["borrower_id"],
        int(line["shard"]),
        day,
        kind,
        payload,
        line["product"],
        int(line["credit_line_id"]),
    )


def debit_due_lines(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int
) -> pl.Series:
    """End-of-day for shards [lo, hi): attempt today's auto-debits; return the borrowers
    debited (their scores may move).

    One ``repay`` per line attempted: the payment must be the very one a borrower makes
    (waterfall, grace cure, events), and only the partition's auto-debit lines due in
    the last three days are read, a few of the partition's lines."""
    due = _due_lines(conn, day, lo, hi)
    if due.is_empty():
        return pl.Series("borrower_id", [], pl.String)
    lines = _to_attempt(conn, due, day)
    ctx = Context(conn=conn, catalog=catalog, today=day, catalog_json=platform.catalog_json(conn))
    attempts = [_debit(ctx, line) for line in lines.iter_rows(named=True)]
    if attempts:
        conn.execute(
            sa.insert(autodebit_attempts),
            [
                {
                    "credit_line_id": a.line["credit_line_id"],
                    "due_date": a.line["due_date"],
                    "attempt": a.line["attempt"],
                    "borrower_id": a.line["borrower_id"],
                    "shard": a.line["shard"],
                    "business_date": day,
                    "due_fen": a.line["due_fen"],
                    "debited_fen": a.debited_fen,
                    "outcome": a.outcome,
                }
                for a in attempts
            ],
        )
        notify(conn, [_notice(a, day) for a in attempts])
    return lines["borrower_id"]
