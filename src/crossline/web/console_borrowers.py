"""Borrower search and the borrower 360: one borrower as the staff member's lender group
sees them (DESIGN §9, DOMAIN §3).

The group's own lines are live, read through the API's ``lines``; every other group's
account is shown only as the bureau shows it, and only once the staff member pulls the
borrower's report for post-loan management — a pull the rules record as the group's
inquiry (DOMAIN §3), through the API's own ``pull_report``, so opening the page reads
nothing of another group. Scores and decisions are the group's own; the timeline merges
the outbox events, decisions and notifications of the group's products.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from crossline.api.access import Caller, engine_of
from crossline.api.routes import borrowers, bureau
from crossline.bureau.report import grid_months
from crossline.kernels.bureau import NEGATIVE_STATUSES
from crossline.money import parse_amount
from crossline.store import platform
from crossline.store.schema import borrowers as borrowers_table
from crossline.store.schema import outbox
from crossline.web.console_support import group_products, staff
from crossline.web.pages import PageRoute, page
from crossline.web.session import CsrfField, check_csrf

router = APIRouter(route_class=PageRoute)

FOUND_AT_MOST = 50
SOURCES = ("decision", "event", "notification")
"""Timeline entries of one day, oldest first: a decision, then what it caused."""


@router.get("/borrowers")
def search(request: Request, q: str = "") -> Response:
    """Borrowers whose id starts with ``q`` (wildcards in ``q`` are taken literally)."""
    who, _group = staff(request)
    wanted = q.strip()
    found: list[str] = []
    if wanted:
        b = borrowers_table.c
        with engine_of(request).connect() as conn:
            found = list(
                conn.execute(
                    sa.select(b.borrower_id)
                    .where(b.borrower_id.startswith(wanted, autoescape=True))
                    .order_by(b.borrower_id)
                    .limit(FOUND_AT_MOST + 1)
                ).scalars()
            )
    return page(
        request,
        "console/borrowers.html",
        who,
        q=wanted,
        found=found[:FOUND_AT_MOST],
        more=len(found) > FOUND_AT_MOST,
    )


def _events(request: Request, borrower_id: str, products: tuple[str, ...]) -> list[dict[str, Any]]:
    """The borrower's outbox events about the group's products."""
    o = outbox.c
    with engine_of(request).connect() as conn:
        rows = conn.execute(
            sa.select(o.event_id, o.business_date, o.type, o.product, o.payload).where(
                o.borrower_id == borrower_id, o.product.in_(products)
            )
        )
        return [row._asdict() | {"payload": json.loads(row.payload)} for row in rows]


def timeline(
    request: Request, who: Caller, borrower_id: str, group: str, products: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The group's decisions, events and notifications about the borrower, newest first."""
    entries = [
        {"source": "decision", "id": d["decision_id"], "on": d["business_date"], "item": d}
        for d in borrowers.borrower_decisions(borrower_id, request, who)
        if d["lender_group"] == group
    ]
    entries += [
        {"source": "event", "id": e["event_id"], "on": e["business_date"], "item": e}
        for e in _events(request, borrower_id, products)
    ]
    entries += [
        {"source": "notification", "id": n["notification_id"], "on": n["business_date"], "item": n}
        for n in borrowers.borrower_notifications(borrower_id, request, who)
        if n["product"] in products
    ]
    entries.sort(key=lambda e: (e["on"], SOURCES.index(e["source"]), e["id"]), reverse=True)
    return entries


def masked_phone(phone: str) -> str:
    """A phone number as staff screens show it (the first three and last four digits):
    staff work a borrower's case without reading the number, which is PII."""
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:]


def _page(
    request: Request, who: Caller, group: str, borrower_id: str, bureau_accounts: Any
) -> Response:
    """The 360, with other groups' accounts when a pull has just fetched them (else
    ``None``: the page offers the pull)."""
    profile = borrowers.profile(borrower_id, request, who)
    if profile.get("phone"):
        profile["phone"] = masked_phone(profile["phone"])
    with engine_of(request).connect() as conn:
        products = group_products(conn, group)
        today = platform.business_date(conn)
    lines = [
        line | {"owed_fen": sum(parse_amount(a) for a in line["outstanding"].values())}
        for line in borrowers.lines(borrower_id, request, who)
        if line["product"] in products
    ]
    return page(
        request,
        "console/borrower.html",
        who,
        group=group,
        profile=profile,
        lines=lines,
        score=borrowers.scores(borrower_id, request, who).get(group),
        bureau=bureau_accounts,
        months=[f"{m:%y-%m}" for m in grid_months(today)],
        negative=NEGATIVE_STATUSES,
        timeline=timeline(request, who, borrower_id, group, products),
    )


@router.get("/borrowers/{borrower_id}")
def borrower(borrower_id: str, request: Request) -> Response:
    """The 360: profile, the group's live lines and score, and the timeline."""
    who, group = staff(request)
    return _page(request, who, group, borrower_id, None)


@router.post("/borrowers/{borrower_id}/credit-report")
def pull_credit_report(borrower_id: str, request: Request, csrf: CsrfField = "") -> Response:
    """The 360 with other groups' accounts, as the bureau reports them today: the pull is
    recorded as the group's post-loan-management inquiry before anything is shown."""
    who, group = staff(request)
    check_csrf(request, csrf)
    wanted = bureau.ReportPull(borrower=borrower_id, reason="post_loan_management")
    report = bureau.pull_report(wanted, request, who)["report"]
    others = [account for account in report["accounts"] if account["group"] != group]
    return _page(request, who, group, borrower_id, others)
