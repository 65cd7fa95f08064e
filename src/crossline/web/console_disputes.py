"""The dispute queue: borrowers' disputes over records the group's products reported,
with the 20 days the rules give to answer each (DOMAIN §3, Art. 25).

An answer runs the API's own ``ResolveDispute`` command through ``commands.execute``,
so the record, its grid, the outbox events and the audit entry are exactly what a
provider's ``POST /v1/disputes/answers`` would leave.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from crossline.api.access import engine_of
from crossline.api.errors import ApiError, not_found
from crossline.api.routes.commands import execute
from crossline.bureau.disputes import ANSWER_DAYS, OUTCOMES
from crossline.kernels.bureau import STATUS_LEVELS
from crossline.scenario.spec import ResolveDispute
from crossline.store import platform
from crossline.store.schema import bureau_disputes, bureau_records
from crossline.web.console_support import done_message, group_products, staff
from crossline.web.pages import PageRoute, page
from crossline.web.session import CsrfField, check_csrf

router = APIRouter(route_class=PageRoute)

QUEUE = "/console/disputes"


def _queue(conn: sa.Connection, products: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every dispute over a record of ``products``, by due date, with the record's
    reported status beside it."""
    d, r = bureau_disputes.c, bureau_records.c
    rows = conn.execute(
        sa.select(
            d.dispute_id,
            d.borrower_id,
            d.product,
            d.period_end,
            d.claim,
            d.filed_on,
            d.due_on,
            d.outcome,
            d.previous_status,
            d.resolved_on,
            r.status,
        )
        .select_from(
            bureau_disputes.join(
                bureau_records,
                sa.and_(r.credit_line_id == d.credit_line_id, r.period_end == d.period_end),
            )
        )
        .where(d.product.in_(products))
        .order_by(d.due_on, d.dispute_id)
    )
    return [row._asdict() for row in rows]


def _with_sla(dispute: dict[str, Any], today: date) -> dict[str, Any]:
    """Days left to answer (negative once overdue); an answer on the due day is in time."""
    answered_on = dispute["resolved_on"] or today
    return dispute | {
        "days_left": (dispute["due_on"] - today).days,
        "overdue": answered_on > dispute["due_on"],
    }


@router.get("/disputes")
def disputes(request: Request, done: str | None = None) -> Response:
    """Open disputes first, soonest due at the top; answered ones below, latest first."""
    who, group = staff(request)
    with engine_of(request).connect() as conn:
        today = platform.business_date(conn)
        every = [_with_sla(d, today) for d in _queue(conn, group_products(conn, group))]
    answered = [d for d in every if d["outcome"] is not None]
    answered.sort(key=lambda d: (d["resolved_on"], d["dispute_id"]), reverse=True)
    return page(
        request,
        "console/disputes.html",
        who,
        open=[d for d in every if d["outcome"] is None],
        answered=answered,
        today=today,
        answer_days=ANSWER_DAYS,
        outcomes=OUTCOMES,
        statuses=list(STATUS_LEVELS),
        done=done_message(done),
    )


def _own_dispute(request: Request, group: str, dispute_id: int) -> Any:
    """The dispute, if it is over a record of the group's products: 404 otherwise, as
    for one that does not exist (``execute`` alone would let any staff answer it)."""
    d = bureau_disputes.c
    with engine_of(request).connect() as conn:
        products = group_products(conn, group)
        row = conn.execute(
            sa.select(d.borrower_id, d.product, d.period_end, d.outcome).where(
                d.dispute_id == dispute_id, d.product.in_(products)
            )
        ).first()
    if row is None:
        raise not_found("dispute")
    if row.outcome is not None:
        raise ApiError(409, "dispute_answered", f"dispute {dispute_id} is already answered")
    return row


@router.post("/disputes/{dispute_id}/answer")
def answer(
    dispute_id: int,
    request: Request,
    csrf: CsrfField = "",
    outcome: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "N",
) -> Response:
    """Answer one dispute: ``corrected`` (the record takes ``status``), ``confirmed`` or
    ``unverifiable``; back to the queue with a confirmation."""
    who, group = staff(request)
    check_csrf(request, csrf)
    dispute = _own_dispute(request, group, dispute_id)
    command = ResolveDispute.model_validate(
        {
            "borrower": dispute.borrower_id,
            "product": dispute.product,
            "month": f"{dispute.period_end:%Y-%m}",
            "outcome": outcome,
            "status": status,
        }
    )
    execute(request, who, command, dispute.borrower_id, None)
    return RedirectResponse(f"{QUEUE}?done=answered", status_code=303)
