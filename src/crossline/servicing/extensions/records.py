"""Reading a loan for an extension, and keeping the extensions table.

One loan's rows only, through the indexes on ``loans.credit_line_id``,
``installments.loan_id`` (its unique key) and ``extensions.loan_id``.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from crossline.servicing.context import Context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.extensions.terms import Offer, Row
from crossline.servicing.lines import Line
from crossline.store.schema import extensions, installments, journal, loans

OFFERED, ACCEPTED, SUPERSEDED = "offered", "accepted", "superseded"


def extendable_loan(ctx: Context, line: Line, loan_id: int | None) -> Row:
    """The active loan of the line to extend: the one named, or the line's only one.

    A line may carry several cash loans (one per draw); guessing which one the
    borrower meant would extend the wrong contract, so more than one must be named.
    """
    query = sa.select(loans).where(
        loans.c.credit_line_id == line.credit_line_id,
        loans.c.status == "active",
        loans.c.kind != "revolving",
    )
    if loan_id is not None:
        query = query.where(loans.c.loan_id == loan_id)
    found = [dict(r) for r in ctx.conn.execute(query.order_by(loans.c.loan_id)).mappings()]
    if loan_id is not None and not found:
        raise InputError("loan", f"no active loan {loan_id} on the {line.product} line")
    if not found:
        raise RefusedError("nothing_to_extend", f"the {line.product} line has no active loan")
    if len(found) > 1:
        ids = ", ".join(str(r["loan_id"]) for r in found)
        raise InputError(
            "loan", f"the {line.product} line has {len(found)} active loans ({ids}); name one"
        )
    return found[0]


def open_rows(ctx: Context, loan_id: int) -> list[dict[str, Any]]:
    """The loan's open installments in schedule order."""
    query = (
        sa.select(installments)
        .where(installments.c.loan_id == loan_id, installments.c.status == "open")
        .order_by(installments.c.seq)
    )
    return [dict(r) for r in ctx.conn.execute(query).mappings()]


def months_extended(ctx: Context, loan_id: int) -> int:
    """Months of the loan's accepted extensions: what Art. 12 adds up."""
    total = ctx.conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(extensions.c.months), 0)).where(
            extensions.c.loan_id == loan_id, extensions.c.status == ACCEPTED
        )
    ).scalar_one()
    return int(total)


def last_prepayment(ctx: Context, loan_id: int) -> date | None:
    """The last day interest was recognised early on the loan by a prepayment."""
    day = ctx.conn.execute(
        sa.select(sa.func.max(journal.c.business_date)).where(
            journal.c.loan_id == loan_id, journal.c.event == "prepayment_interest"
        )
    ).scalar_one_or_none()
    return day if isinstance(day, date) else None


def store_offer(ctx: Context, line: Line, offer: Offer, valid_days: int) -> dict[str, Any]:
    """Keep the offer, superseding any earlier one on the loan; return the stored row."""
    ctx.conn.execute(
        sa.update(extensions)
        .where(extensions.c.loan_id == offer.loan_id, extensions.c.status == OFFERED)
        .values(status=SUPERSEDED)
    )
    values = {
        "borrower_id": line.borrower_id,
        "shard": line.shard,
        "credit_line_id": line.credit_line_id,
        "loan_id": offer.loan_id,
        "months": offer.months,
        "outstanding_fen": offer.outstanding_fen,
        "fee_fen": offer.fee_fen,
        "apr": str(offer.apr),
        "old_maturity": offer.old_maturity,
        "new_maturity": offer.new_maturity,
        "schedule": json.dumps(offer.schedule(), ensure_ascii=False),
        "status": OFFERED,
        "offered_on": ctx.today,
        "expires_on": ctx.today + timedelta(days=valid_days),
    }
    extension_id = ctx.conn.execute(
        sa.insert(extensions).values(**values).returning(extensions.c.extension_id)
    ).scalar_one()
    return values | {"extension_id": int(extension_id)}


def pending_offer(ctx: Context, line: Line) -> dict[str, Any] | None:
    """The line's latest offer still open today, if any."""
    row = ctx.conn.execute(
        sa.select(extensions)
        .where(
            extensions.c.credit_line_id == line.credit_line_id,
            extensions.c.status == OFFERED,
            extensions.c.expires_on >= ctx.today,
        )
        .order_by(extensions.c.extension_id.desc())
        .limit(1)
    ).mappings()
    found = row.first()
    return None if found is None else dict(found)


def mark_accepted(ctx: Context, extension_id: int) -> None:
    ctx.conn.execute(
        sa.update(extensions)
        .where(extensions.c.extension_id == extension_id)
        .values(status=ACCEPTED, accepted_on=ctx.today)
    )


def reschedule_rows(ctx: Context, line: Line, offer: Offer) -> None:
    """Rewrite the loan's remaining installments and add the extended ones.

    The remaining rows stay the same rows (same ids, seq and due dates), as a
    prepayment leaves them, so the kernels, the ledger check and the bureau read them
    as before; the extension fee is recognised on the first of them at once (its
    ``fee_recognised_fen``), matching the journal entry the acceptance posts.
    """
    existing = [row for row in offer.rows if row.installment_id is not None]
    for index, row in enumerate(existing):
        ctx.conn.execute(
            sa.update(installments)
            .where(installments.c.installment_id == row.installment_id)
            .values(
                principal_fen=row.principal_fen,
                interest_fen=row.interest_fen,
                fee_fen=row.fee_fen,
                fee_recognised_fen=installments.c.fee_recognised_fen
                + (offer.fee_fen if index == 0 else 0),
            )
        )
    added = [row for row in offer.rows if row.installment_id is None]
    ctx.conn.execute(
        sa.insert(installments),
        [
            {
                "borrower_id": line.borrower_id,
                "shard": line.shard,
                "loan_id": offer.loan_id,
                "seq": row.seq,
                "due_date": row.due_date,
                "principal_fen": row.principal_fen,
                "interest_fen": row.interest_fen,
                "fee_fen": row.fee_fen,
                "status": "open",
            }
            for row in added
        ],
    )
