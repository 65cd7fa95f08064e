"""Recording a collection contact, once the rules allow it; the borrower's night consent.

A refused contact writes nothing: every rule is checked before the one insert.
The record names the line, the local time, the channel, the party, the number
dialled (as ``collections.numbers`` keeps it), whether anyone answered, the
outcome and the operator; it is never changed and is kept at least two years.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crossline.collections import rules
from crossline.collections.lines import collectible_line
from crossline.collections.numbers import number_key
from crossline.scenario.spec import ConsentContactHours, Contact
from crossline.security.pii import PiiCipher
from crossline.servicing.context import Context, require_borrower
from crossline.store.schema import contact_consents, contacts


def record_contact(ctx: Context, c: Contact, cipher: PiiCipher | None) -> dict[str, Any]:
    """Check ``c`` against every collection rule and record it; the contact's id."""
    line = collectible_line(ctx, c.borrower, c.product)
    rules.check_no_fee(c.fee)
    rules.check_hours(ctx.conn, c.borrower, c.at)
    if c.party == "third_party":
        rules.check_third_party_message(c.message)
        rules.check_third_party_allowed(ctx.conn, c.borrower, ctx.today)
    key = None
    if c.channel == "call" or c.number is not None:
        key = number_key(cipher, c.party, c.number)
        if c.channel == "call":
            rules.check_call_limit(ctx.conn, key, ctx.today)
    contact_id = ctx.conn.execute(
        sa.insert(contacts)
        .values(
            borrower_id=c.borrower,
            shard=line.shard,
            credit_line_id=line.credit_line_id,
            product=c.product,
            business_date=ctx.today,
            local_time=c.at,
            channel=c.channel,
            party=c.party,
            number_key=key,
            answered=c.answered,
            outcome=c.outcome,
            notes=c.notes,
            operator=c.operator,
        )
        .returning(contacts.c.contact_id)
    ).scalar_one()
    return {
        "contact_id": contact_id,
        "at": f"{ctx.today.isoformat()} {c.at}",
        "channel": c.channel,
        "party": c.party,
        "answered": c.answered,
    }


def set_night_consent(ctx: Context, c: ConsentContactHours) -> dict[str, Any]:
    """Record whether the borrower consents to contact between 22:00 and 08:00."""
    require_borrower(ctx, c.borrower)
    t = contact_consents
    values = {"night_contact": c.consent, "set_on": ctx.today}
    exists = ctx.conn.execute(
        sa.select(t.c.borrower_id).where(t.c.borrower_id == c.borrower)
    ).first()
    if exists is None:
        ctx.conn.execute(
            sa.insert(t).values(borrower_id=c.borrower, shard=ctx.shard(c.borrower), **values)
        )
    else:
        ctx.conn.execute(sa.update(t).where(t.c.borrower_id == c.borrower).values(**values))
    return {"night_contact": c.consent}
