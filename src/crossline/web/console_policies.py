"""Policies: the group's champion and challenger in force, and a candidate taken through
validate → backtest → upload → activate.

Every step calls the API's own operations function, so its role check, its own-group
rule, its error naming the decision, node, row and column, and its audit entry are the
API's: an operator may validate and backtest, only a risk admin uploads and activates
(an operator's post is 403 from the function itself, and nothing is written).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crossline.api.access import Caller, engine_of
from crossline.api.errors import ApiError, refusal
from crossline.api.routes.operations import (
    POLICY_CHANGERS,
    Activation,
    Candidate,
    activate,
    backtest_policy,
    in_force,
    upload,
    validate_policy,
)
from crossline.store import platform
from crossline.store.schema import policies
from crossline.web.console_support import done_message, staff
from crossline.web.pages import PageRoute, page
from crossline.web.session import check_csrf

router = APIRouter(route_class=PageRoute)

HOME = "/console/policies"
BACKTEST_DAYS = 90
"""The default backtest window: the last ninety days of stored applications."""

Text = Annotated[str, Form()]


def _stored(request: Request, group: str) -> list[dict[str, Any]]:
    """The group's uploaded versions, newest first."""
    p = policies.c
    with engine_of(request).connect() as conn:
        rows = conn.execute(
            sa.select(
                p.version, p.role, p.challenger_share, p.uploaded_on, p.activated_on, p.digest
            )
            .where(p.lender_group == group)
            .order_by(p.policy_id.desc())
        )
        return [row._asdict() for row in rows]


def _show(request: Request, who: Caller, group: str, status: int = 200, **context: Any) -> Response:
    """The policies page, with what a step found (``checked``, ``backtest``, ``error``)
    and the candidate's text and window kept in the form."""
    with engine_of(request).connect() as conn:
        today = platform.business_date(conn)
    form = {"policy": "", "from": (today - timedelta(days=BACKTEST_DAYS)).isoformat()}
    form |= {"to": today.isoformat()} | context.pop("form", {})
    return page(
        request,
        "console/policies.html",
        who,
        status,
        group=group,
        arms=in_force(group, request, who),
        stored=_stored(request, group),
        may_change=who.principal.role in POLICY_CHANGERS,
        form=form,
        **context,
    )


@router.get("/policies")
def policies_page(request: Request, done: str | None = None) -> Response:
    who, group = staff(request)
    return _show(request, who, group, done=done_message(done))


def _document(text: str) -> dict[str, Any]:
    """The candidate as JSON, for the backtest (which takes the document as an object)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, "invalid_policy", f"policy: not JSON ({exc})", "policy") from exc
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_policy", "policy: expected a JSON object", "policy")
    return document


@router.post("/policies/check")
def check(
    request: Request,
    csrf: Text = "",
    policy: Text = "",
    start: Annotated[str, Form(alias="from")] = "",
    end: Annotated[str, Form(alias="to")] = "",
    action: Text = "validate",
) -> Response:
    """Validate the candidate (its tables and rows) or backtest it over the window, beside
    the versions that decided; nothing is stored. A refusal is shown on the page, with
    the candidate kept for mending."""
    who, group = staff(request)
    check_csrf(request, csrf)
    form = {"policy": policy, "from": start, "to": end}
    checked = tested = None
    try:
        if action == "backtest":
            body = Candidate.model_validate({"policy": _document(policy), "from": start, "to": end})
            tested = backtest_policy(body, request, who)
        else:
            checked = validate_policy(request, who, policy)
    except (ApiError, ValidationError) as exc:
        status, detail = refusal(exc)
        return _show(request, who, group, status, form=form, error=detail)
    return _show(request, who, group, form=form, checked=checked, backtest=tested)


@router.post("/policies/upload")
def store(request: Request, csrf: Text = "", policy: Text = "") -> Response:
    """Store the candidate as a draft of the group (risk admins only)."""
    who, _group = staff(request)
    check_csrf(request, csrf)
    upload(request, who, policy)
    return RedirectResponse(f"{HOME}?done=uploaded", status_code=303)


def _share(arm: str, share: str) -> int | None:
    """The challenger's share of borrowers as a whole per cent; none for a champion."""
    if arm == "champion":
        return None
    if arm != "challenger":
        raise ApiError(400, "invalid_input", "arm: expected champion or challenger", "arm")
    if not share.strip().isdigit():
        raise ApiError(
            400, "invalid_input", "challenger_share: expected a whole per cent", "challenger_share"
        )
    return int(share)


@router.post("/policies/{version}/activation")
def make_active(
    version: str,
    request: Request,
    csrf: Text = "",
    arm: Text = "champion",
    share: Text = "",
) -> Response:
    """Make a stored version the group's champion, or its challenger for a share of
    borrowers (risk admins only)."""
    who, group = staff(request)
    check_csrf(request, csrf)
    body = Activation.model_validate({"challenger_share": _share(arm, share)})
    activate(group, version, body, request, who)
    return RedirectResponse(f"{HOME}?done=activated", status_code=303)
