"""Collections: the queue console staff work, the contacts they record and the promises
borrowers make; a borrower's consent to contact at night.

A contact is checked against the collection rules (``collections.rules``) and a
forbidden one is refused (422, the rule as the code) with nothing written. The
operator on the record is the caller, not a field of the body. The number dialled is
hashed with the server's PII key and is never written to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from crossline.api.access import (
    COMMAND_ROLES,
    CallerDep,
    audit_write,
    check_scope,
    cipher_of,
    engine_of,
    require_role,
)
from crossline.api.routes.commands import execute
from crossline.collections import collections_queue, record_contact
from crossline.scenario.spec import ConsentContactHours, Contact, PromiseToPay
from crossline.servicing.context import lock_borrower, open_context
from crossline.store import platform

router = APIRouter(tags=["collections"])

STAFF = frozenset({"operator", "risk_admin"})


@router.get("/collections/queue")
def queue(request: Request, who: CallerDep) -> dict[str, Any]:
    """Every past-due line of the caller's lender group, latest bucket first: the bucket's
    strategy, the amount overdue, the last contact and any open promise."""
    require_role(who, STAFF, "read the collections queue")
    group = who.principal.lender_group
    assert group is not None
    with engine_of(request).connect() as conn:
        today = platform.business_date(conn)
        entries = collections_queue(conn, today, {group})
    return {"business_date": today.isoformat(), "queue": entries}


@router.post("/contacts")
def contact(body: Contact, request: Request, who: CallerDep) -> dict[str, Any]:
    """Record a collection contact the rules allow; refuse one they forbid."""
    require_role(who, COMMAND_ROLES["contact"], "record a contact")
    command = body.model_copy(update={"operator": who.principal.subject})
    with engine_of(request).begin() as conn:
        ctx = open_context(conn)
        check_scope(who.principal, ctx.catalog, body.borrower, body.product)
        lock_borrower(ctx, body.borrower)
        answer = record_contact(ctx, command, cipher_of(request))
        detail = command.model_dump(mode="json", exclude={"number"})
        audit_write(conn, who, "contact", f"borrower:{body.borrower}", detail)
    return {"ok": True} | answer


@router.post("/promises")
def promise(body: PromiseToPay, request: Request, who: CallerDep) -> dict[str, Any]:
    """Record the promise to pay made in today's answered contact on the line."""
    answer, _ = execute(request, who, body, body.borrower, None)
    return answer


@router.post("/contact-consents")
def consent(body: ConsentContactHours, request: Request, who: CallerDep) -> dict[str, Any]:
    """The borrower consents to (or withdraws consent from) contact between 22:00 and 08:00."""
    answer, _ = execute(request, who, body, body.borrower, None)
    return answer
