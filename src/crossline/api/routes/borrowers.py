"""Borrowers: registering one with their identity, and what a caller may read about
one — profile, lines, decisions with their reasons, notifications. A provider sees only
its own products' rows, console staff their lender group's; a borrower only their own.

The identity (name, national ID, phone) is stored encrypted (``security.identities``)
and never leaves the API whole: the national ID is shown masked, and no identity is
written to the audit log."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import (
    Caller,
    CallerDep,
    audit_write,
    check_scope,
    cipher_of,
    engine_of,
    may_see_group,
    may_see_product,
    require_role,
)
from crossline.catalog import Catalog
from crossline.events.preferences import languages_of, save_email
from crossline.events.templates import render
from crossline.money import format_fen
from crossline.scenario.spec import Fen
from crossline.scenario.state import line_views
from crossline.security import Principal
from crossline.security.identities import read_identity, save_identity
from crossline.servicing.context import Context, open_context, require_borrower
from crossline.servicing.early_warning import borrower_warning
from crossline.servicing.lines import register_borrower
from crossline.store.schema import borrowers, current_scores, decisions, notifications

router = APIRouter(prefix="/borrowers", tags=["borrowers"])

REGISTRARS = frozenset({"provider", "operator", "risk_admin"})
"""Lenders onboard their customers; console staff may too."""


class NewBorrower(BaseModel):
    """A borrower to register, with the identity the rules require a lender to hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    borrower: str = Field(min_length=1, max_length=64)
    monthly_income: Fen
    name: str
    national_id: str
    phone: str


def masked(national_id: str) -> str:
    """A national ID as statements print it: the region code and the last four."""
    return national_id[:6] + "*" * (len(national_id) - 10) + national_id[-4:]


@router.post("")
def register(body: NewBorrower, request: Request, who: CallerDep) -> dict[str, Any]:
    """Register a borrower; a national ID already held by another borrower is refused."""
    require_role(who, REGISTRARS, "register borrowers")
    with engine_of(request).begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, body.borrower, body.monthly_income)
        save_identity(
            conn,
            cipher_of(request),
            body.borrower,
            name=body.name,
            national_id=body.national_id,
            phone=body.phone,
        )
        audit_write(
            conn,
            who,
            "register_borrower",
            f"borrower:{body.borrower}",
            {"monthly_income": format_fen(body.monthly_income)},
        )
    return {"borrower": body.borrower, "national_id": masked(body.national_id)}


class NewEmail(BaseModel):
    """The address notifications are mailed to."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    email: str = Field(min_length=1, max_length=254)


@router.put("/{borrower_id}/email")
def set_email(borrower_id: str, body: NewEmail, request: Request, who: CallerDep) -> dict[str, Any]:
    """The borrower's e-mail address for notifications, stored sealed as the identity is;
    the audit entry says it was set, never what it is."""
    require_role(who, REGISTRARS | {"borrower"}, "set e-mail addresses")
    with engine_of(request).begin() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        save_email(conn, cipher_of(request), borrower_id, body.email)
        audit_write(conn, who, "set_email", f"borrower:{borrower_id}", {"email": "set"})
    return {"borrower": borrower_id, "email": "set"}


@router.get("/{borrower_id}")
def profile(borrower_id: str, request: Request, who: CallerDep) -> dict[str, Any]:
    """Who the borrower is (national ID masked) and their declared and verified income."""
    b = borrowers.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        row = conn.execute(
            sa.select(b.monthly_income_fen, b.verified_income_fen, b.created_on).where(
                b.borrower_id == borrower_id
            )
        ).one()
        identity = read_identity(conn, cipher_of(request), borrower_id)
    answer: dict[str, Any] = {
        "borrower": borrower_id,
        "monthly_income": format_fen(row.monthly_income_fen),
        "verified_income": None
        if row.verified_income_fen is None
        else format_fen(row.verified_income_fen),
        "registered_on": row.created_on,
    }
    if identity is not None:
        answer |= {
            "name": identity.name,
            "national_id": masked(identity.national_id),
            "phone": identity.phone,
        }
    return answer


def _visible(principal: Principal, catalog: Catalog, product: str | None) -> bool:
    """A row without a product (the borrower's own, e.g. a bureau notice) is the
    borrower's and console staff's; a provider sees rows of its own products."""
    if product is None:
        return principal.role != "provider"
    return may_see_product(principal, catalog, product)


def _open(ctx: Context, principal: Principal, borrower_id: str) -> None:
    """404 unless the borrower exists and the caller may see them."""
    check_scope(principal, ctx.catalog, borrower_id, None)
    require_borrower(ctx, borrower_id)


@router.get("/{borrower_id}/lines")
def lines(borrower_id: str, request: Request, who: CallerDep) -> list[dict[str, Any]]:
    """Each line the caller may see: status, limit and what is still available, how late
    it is, what is owed, its loans with their schedules (bill installments included) and
    its statements — the same picture a scenario snapshot prints."""
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        views = line_views(conn, ctx.today, borrower_id).get(borrower_id, {})
    return [
        {"product": product} | view
        for product, view in sorted(views.items())
        if _visible(who.principal, ctx.catalog, product)
    ]


@router.get("/{borrower_id}/scores")
def scores(borrower_id: str, request: Request, who: CallerDep) -> dict[str, Any]:
    """The borrower's score in each lender group's view, with its band and reasons. A
    provider or console user sees their own group's only: the others are those groups'
    own judgement."""
    s = current_scores.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        rows = conn.execute(
            sa.select(s.lender_group, s.score, s.band, s.reasons, s.business_date)
            .where(s.borrower_id == borrower_id)
            .order_by(s.lender_group)
        )
        return {
            row.lender_group: {
                "score": row.score,
                "band": row.band,
                "reasons": json.loads(row.reasons),
                "scored_on": row.business_date,
            }
            for row in rows
            if may_see_group(who.principal, row.lender_group)
        }


def _history(
    request: Request,
    who: Caller,
    borrower_id: str,
    table: sa.Table,
    columns: tuple[str, ...],
    json_column: str,
) -> list[dict[str, Any]]:
    """A borrower's rows of ``table`` the caller may see, newest first (by the table's
    id, its first column), with ``json_column`` decoded."""
    c = table.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        rows = conn.execute(
            sa.select(*(c[name] for name in columns))
            .where(c.borrower_id == borrower_id)
            .order_by(c[columns[0]].desc())
        )
        return [
            row._asdict() | {json_column: json.loads(row._mapping[json_column])}
            for row in rows
            if _visible(who.principal, ctx.catalog, row.product)
        ]


@router.get("/{borrower_id}/decisions")
def borrower_decisions(borrower_id: str, request: Request, who: CallerDep) -> list[dict[str, Any]]:
    """Every decision about the borrower the caller may see, newest first, with the
    policy version that made it and its reasons in plain language."""
    columns = (
        "decision_id",
        "business_date",
        "kind",
        "product",
        "lender_group",
        "outcome",
        "score",
        "policy_version",
        "reasons",
    )
    return _history(request, who, borrower_id, decisions, columns, "reasons")


@router.get("/{borrower_id}/notifications")
def borrower_notifications(
    borrower_id: str, request: Request, who: CallerDep
) -> list[dict[str, Any]]:
    """What the borrower was told (decisions, limit changes, dues, overdue and pre-report
    notices, dispute answers), newest first, each with its subject and body in the
    borrower's language."""
    columns = ("notification_id", "business_date", "kind", "channel", "product", "payload")
    rows = _history(request, who, borrower_id, notifications, columns, "payload")
    with engine_of(request).connect() as conn:
        language = languages_of(conn, [borrower_id])[borrower_id]
    for row in rows:
        subject, body = render(
            row["kind"], language, row["payload"], row["product"], row["business_date"]
        )
        row |= {"language": language, "subject": subject, "body": body}
    return rows


WARNING_READERS = frozenset({"borrower"})
"""The early warning adds up every lender's lines: the borrower's own view. A lender or
its console staff would learn of other groups' lines before the bureau shows them."""


@router.get("/{borrower_id}/early-warning")
def early_warning(borrower_id: str, request: Request, who: CallerDep) -> dict[str, Any]:
    """The borrower's early-warning level now (ok / watch / act), the signals behind it
    with advice in Chinese and English, and the measures: debt-to-income, dues in the
    next 30 days against income, products with a balance, utilisation and its change
    since the previous month end."""
    require_role(who, WARNING_READERS, "read a borrower's early warning")
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        view = borrower_warning(conn, borrower_id, ctx.today)
    assert view is not None  # _open found the borrower
    return view
