"""Promises to pay: recorded from a contact, kept or broken by what the line receives.

A promise is kept when the repayments on its line from the day it was made reach
its amount by its date, and broken when its date has closed short of that. The
close decides every open promise of a partition in one query (``close_promises``);
a reader sees the same sum so far (``paid_towards``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.collections.lines import collectible_line
from crossline.events.notifications import (
    Notice,
    line_notices,
    notify,
    write_notifications,
)
from crossline.kernels.frames import fen_text
from crossline.ledger.accounts import Account
from crossline.money import format_fen
from crossline.scenario.spec import PromiseToPay
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.store.bulk import read_frame
from crossline.store.schema import contacts, journal, loans, promises

PROMISE_RECORDED = "promise_recorded"
PROMISE_BROKEN = "promise_broken"

_PAID_SCHEMA = pl.Schema(
    {
        "promise_id": pl.Int64(),
        "borrower_id": pl.String(),
        "shard": pl.Int16(),
        "product": pl.String(),
        "credit_line_id": pl.Int64(),
        "amount_fen": pl.Int64(),
        "due_on": pl.Date(),
        "paid_fen": pl.Int64(),
    }
)


def paid_towards(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Open promises matching ``where`` with the cash their line received since each was
    made, up to its date: settlement debits of repayment entries on the line's loans."""
    p, j = promises.c, journal.c
    # PostgreSQL sums a bigint as numeric: cast back to whole fen.
    paid = sa.cast(sa.func.coalesce(sa.func.sum(j.amount_fen), 0), sa.BigInteger)
    return (
        sa.select(
            p.promise_id,
            p.borrower_id,
            p.shard,
            p.product,
            p.credit_line_id,
            p.amount_fen,
            p.due_on,
            paid.label("paid_fen"),
        )
        .select_from(
            promises.outerjoin(loans, loans.c.credit_line_id == p.credit_line_id).outerjoin(
                journal,
                (j.loan_id == loans.c.loan_id)
                & (j.event == "repayment")
                & (j.account == Account.SETTLEMENT.value)
                & (j.business_date >= p.made_on)
                & (j.business_date <= p.due_on),
            )
        )
        .where(p.status == "open", where)
        .group_by(
            p.promise_id,
            p.borrower_id,
            p.shard,
            p.product,
            p.credit_line_id,
            p.amount_fen,
            p.due_on,
        )
    )


def record_promise(ctx: Context, c: PromiseToPay) -> dict[str, Any]:
    """Record the promise made in today's latest answered contact with the debtor or the
    guarantor on the line; one open promise per line."""
    line = collectible_line(ctx, c.borrower, c.product)
    if c.by < ctx.today:
        raise InputError("by", f"expected a date on or after {ctx.today}, got {c.by}")
    k, p = contacts.c, promises.c
    contact_id = ctx.conn.execute(
        sa.select(sa.func.max(k.contact_id)).where(
            k.credit_line_id == line.credit_line_id,
            k.business_date == ctx.today,
            k.answered.is_(True),
            k.party.in_(("debtor", "guarantor")),
        )
    ).scalar_one()
    if contact_id is None:
        raise RefusedError(
            "promise_needs_contact",
            "a promise is recorded from an answered contact with the debtor or guarantor "
            f"on the {c.product} line today; there is none",
        )
    open_one = ctx.conn.execute(
        sa.select(p.promise_id).where(p.credit_line_id == line.credit_line_id, p.status == "open")
    ).first()
    if open_one is not None:
        raise RefusedError(
            "promise_open", f"the {c.product} line already has an open promise to pay"
        )
    promise_id = ctx.conn.execute(
        sa.insert(promises)
        .values(
            borrower_id=c.borrower,
            shard=line.shard,
            credit_line_id=line.credit_line_id,
            product=c.product,
            contact_id=contact_id,
            amount_fen=c.amount,
            made_on=ctx.today,
            due_on=c.by,
            status="open",
        )
        .returning(p.promise_id)
    ).scalar_one()
    payload = {"amount": format_fen(c.amount), "due_date": c.by.isoformat()}
    notice = Notice(
        c.borrower, line.shard, ctx.today, PROMISE_RECORDED, payload, c.product, line.credit_line_id
    )
    notify(ctx.conn, [notice])
    return {"promise_id": promise_id, "amount": format_fen(c.amount), "by": c.by.isoformat()}


def close_promises(conn: sa.Connection, day: date, lo: int, hi: int) -> int:
    """At the close of ``day``: every open promise of shards [lo, hi) whose line has
    received its amount is kept; one whose date is ``day`` or earlier and still short is
    broken, and the borrower is told (``promise_broken``). Returns how many were decided."""
    p = promises.c
    frame = read_frame(conn, paid_towards((p.shard >= lo) & (p.shard < hi)), _PAID_SCHEMA)
    kept = frame.filter(pl.col("paid_fen") >= pl.col("amount_fen"))
    broken = frame.filter((pl.col("paid_fen") < pl.col("amount_fen")) & (pl.col("due_on") <= day))
    for status, decided in (("kept", kept), ("broken", broken)):
        if not decided.is_empty():
            conn.execute(
                sa.update(promises)
                .where(p.promise_id.in_(decided["promise_id"].to_list()))
                .values(status=status, resolved_on=day)
            )
    if not broken.is_empty():
        write_notifications(conn, _broken_notices(broken, day))
    return kept.height + broken.height


def _broken_notices(broken: pl.DataFrame, day: date) -> pl.DataFrame:
    payload = pl.struct(
        fen_text(pl.col("amount_fen")).alias("amount"),
        pl.col("due_on").dt.to_string("%Y-%m-%d").alias("due_date"),
        fen_text(pl.col("paid_fen")).alias("paid"),
    ).struct.json_encode()
    return line_notices(broken, day, PROMISE_BROKEN, payload)
