"""Who is asking, and what they may see and do.

A request carries one credential: ``Authorization: Bearer <token>``, where a
token starting ``clk_`` is a provider's API key and any other is a session
from ``POST /v1/sessions``; the portal sends the same session as a cookie.
The rules, from issue 6:

- a **borrower** sees and acts on their own data only;
- a **provider** acts on its own products' lines and loans only; it sees other
  groups' data only through a bureau pull with a reason, which is recorded
  as an inquiry;
- an **operator** works the console; a **risk_admin** may also change
  policies and grant waivers. Both are bound to one lender group and, like a
  provider, act on and see that group's products, scores and decisions only.

Anything the caller may not see is answered exactly as if it did not exist
(404), so nobody can probe for ids; a role that may not use an endpoint at all
gets 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request

from crossline.api.errors import ApiError, not_found
from crossline.catalog import Catalog, CatalogError
from crossline.security import Principal, audit, authenticate_api_key, authenticate_session
from crossline.security.pii import PiiCipher

API_KEY_PREFIX = "clk_"
SESSION_COOKIE = "crossline_session"

COMMAND_ROLES: dict[str, frozenset[str]] = {
    "apply": frozenset({"borrower", "provider"}),
    "submit_document": frozenset({"borrower", "provider"}),
    "verify_document": frozenset({"provider", "operator", "risk_admin"}),
    "draw": frozenset({"borrower", "provider"}),
    "purchase": frozenset({"borrower", "provider"}),
    "repay": frozenset({"borrower", "provider"}),
    "convert_statement": frozenset({"borrower", "provider"}),
    "self_query": frozenset({"borrower"}),
    "dispute": frozenset({"borrower"}),
    "statement": frozenset({"borrower"}),
    "resolve_dispute": frozenset({"provider", "operator", "risk_admin"}),
    "request_extension": frozenset({"borrower", "provider"}),
    "accept_offer": frozenset({"borrower", "provider"}),
    "contact": frozenset({"operator", "risk_admin"}),
    "promise_to_pay": frozenset({"operator", "risk_admin"}),
    "consent_contact_hours": frozenset({"borrower"}),
    "waive": frozenset({"risk_admin"}),
    "settle": frozenset({"borrower", "provider", "risk_admin"}),
    "enable_autodebit": frozenset({"borrower", "provider"}),
    "set_account_balance": frozenset({"borrower"}),
    "set_language": frozenset({"borrower", "operator"}),
    "request_plan": frozenset({"borrower", "provider"}),
}
"""Which roles may give each command. A provider gives them for its own products'
customers; an operator answers disputes and checks documents from the console. A
settlement is the borrower's (or provider's) payment, or a risk admin's negotiated one
(``api.routes.commands.settle`` tells them apart)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal and where the request came from (for the audit log)."""

    principal: Principal
    source: str


def engine_of(request: Request) -> sa.Engine:
    engine = request.app.state.engine
    assert isinstance(engine, sa.Engine)
    return engine


def cipher_of(request: Request) -> PiiCipher:
    cipher = request.app.state.cipher
    assert isinstance(cipher, PiiCipher)
    return cipher


def credential(request: Request) -> str | None:
    """The bearer token, else the session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


def caller(request: Request) -> Caller:
    """The request's principal, or 401 when its credential is missing or not valid."""
    token = credential(request)
    principal = None
    if token is not None:
        now = datetime.now(UTC)
        # A transaction that commits: a wrong API-key secret is counted (security.throttle).
        with engine_of(request).begin() as conn:
            if token.startswith(API_KEY_PREFIX):
                principal = authenticate_api_key(conn, token, now)
            else:
                principal = authenticate_session(conn, token, now)
    if principal is None:
        raise ApiError(401, "unauthenticated", "a valid API key or session is required")
    return Caller(principal, source_of(request))


CallerDep = Annotated[Caller, Depends(caller)]


def require_role(caller: Caller, roles: frozenset[str], what: str) -> None:
    """403 for a role that may not use an endpoint at all."""
    if caller.principal.role not in roles:
        raise ApiError(403, "forbidden", f"a {caller.principal.role} may not {what}")


def may_see_borrower(principal: Principal, borrower_id: str) -> bool:
    """A borrower sees only themself; providers and console staff see any borrower they
    are asked about (what of theirs is filtered by ``may_see_product``)."""
    return principal.role != "borrower" or principal.borrower_id == borrower_id


def may_see_product(principal: Principal, catalog: Catalog, product: str) -> bool:
    """A provider sees only its own products' lines and loans; console staff only their
    lender group's (another group's lines they see only as its bureau records)."""
    if principal.role == "borrower":
        return True
    try:
        provider = catalog.product(product).provider
        if principal.role == "provider":
            return provider == principal.provider
        return catalog.provider(provider).group == principal.lender_group
    except CatalogError:
        return False


def may_see_group(principal: Principal, group: str) -> bool:
    """A borrower sees every group's judgement of them; lenders' callers their own."""
    return principal.role == "borrower" or group == principal.lender_group


def check_scope(
    principal: Principal, catalog: Catalog, borrower_id: str, product: str | None
) -> None:
    """404 unless the principal may act on this borrower's ``product`` (or the borrower)."""
    if not may_see_borrower(principal, borrower_id):
        raise not_found("borrower")
    if product is not None and not may_see_product(principal, catalog, product):
        raise not_found("line")


def audit_write(
    conn: sa.Connection, who: Caller, action: str, target: str, detail: Mapping[str, Any]
) -> None:
    """Record a write in the audit log, in the write's own transaction: who, what, on
    what (``borrower:ID``, ``user:LOGIN``…), from where, when."""
    audit.record(
        conn,
        actor=who.principal.subject,
        role=who.principal.role,
        action=action,
        target=target,
        source=who.source,
        detail=detail,
        at=datetime.now(UTC),
    )


def source_of(request: Request) -> str:
    """The client's address, as the audit log records it."""
    return request.client.host if request.client is not None else "unknown"
