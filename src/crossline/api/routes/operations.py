"""Operations: what console staff need to run the platform — end-of-day, the ledger
check, credit policies and the scorecard in use.

Each endpoint is a thin layer over the function the command line runs (``crossline
eod``, ``ledger check``, ``policy …``, ``model``), so the console and the CLI cannot
disagree. Operators and risk admins run the day and read; only a risk admin changes
which policy decides. A policy is its lender group's: staff read, check, backtest and
change their own group's policies only, since a backtest shows the group's decisions
and outcomes and a policy decides for the group's customers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from crossline.api.access import Caller, CallerDep, audit_write, engine_of, require_role
from crossline.api.errors import ApiError
from crossline.decisions.backtest import backtest
from crossline.decisions.policies import (
    activate_policy,
    check_policy,
    policies_in_force,
    policy_role,
    upload_policy,
)
from crossline.eod.runner import run_eod
from crossline.ledger.check import check_ledger
from crossline.policy.bundle import Bundle
from crossline.policy.errors import PolicyError
from crossline.policy.render import table_sizes
from crossline.scoring.scorecard import default_scorecard
from crossline.store import platform

router = APIRouter(prefix="/operations", tags=["operations"])

STAFF = frozenset({"operator", "risk_admin"})
POLICY_CHANGERS = frozenset({"risk_admin"})
"""Issue 6: policy changes need a risk admin; an operator may check, read and backtest."""

POLICY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "A crossline-policy/1 document."}
            }
        },
    }
}

_eod_running = threading.Lock()
"""Held while this process runs end-of-day, so that a second request (a double click on
the console) is told so instead of racing the first for the same partitions."""


def _iso_date(value: Any) -> date:
    """Only a ``YYYY-MM-DD`` text: pydantic alone would take a Unix time for a date."""
    if not isinstance(value, str):
        raise ValueError("expected a date like 2026-03-31")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"expected a date like 2026-03-31, got {value!r}") from exc


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


class EndOfDay(BaseModel):
    """Close every business date up to and including ``through``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    through: IsoDate


class Activation(BaseModel):
    """Champion without a share; challenger for this per cent of borrowers with one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    challenger_share: int | None = Field(default=None, ge=1, le=99, strict=True)


class Candidate(BaseModel):
    """A candidate policy and the window of stored application decisions to replay."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    policy: dict[str, Any]
    start: IsoDate = Field(alias="from")
    end: IsoDate = Field(alias="to")


async def policy_text(request: Request) -> str:
    """The policy document exactly as sent: its digest is of these bytes, so a file
    uploaded here and one uploaded by ``crossline policy upload`` are the same version."""
    try:
        return (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_policy", f"policy: not UTF-8 ({exc})", "policy") from exc


PolicyText = Annotated[str, Depends(policy_text)]


@contextmanager
def _policy_checked() -> Iterator[None]:
    """A policy that does not check is bad input: 400 naming the decision, node, row and
    column at fault, as ``crossline policy validate`` does."""
    try:
        yield
    except PolicyError as exc:
        raise ApiError(400, "invalid_policy", f"policy: {exc}", "policy") from exc


def _own_group(who: Caller, group: str) -> None:
    """403 for another lender group's policy."""
    mine = who.principal.lender_group
    if group != mine:
        raise ApiError(
            403, "forbidden", f"a {who.principal.role} of {mine} may not use {group}'s policies"
        )


def _version(bundle: Bundle) -> dict[str, str]:
    return {"version": bundle.version, "digest": bundle.digest}


@router.post("/end-of-day")
def end_of_day(body: EndOfDay, request: Request, who: CallerDep) -> dict[str, Any]:
    """Close each business date through ``through`` (a long range takes as long as the
    CLI's ``crossline eod``). Each partition commits as it closes, so this request is
    not one transaction: its audit entry is written after the close, on its own."""
    require_role(who, STAFF, "run end-of-day")
    engine = engine_of(request)
    if not _eod_running.acquire(blocking=False):
        raise ApiError(409, "eod_in_progress", "end-of-day is already running; retry later")
    try:
        with engine.connect() as conn:
            today = platform.business_date(conn)
        if body.through < today:
            raise ApiError(
                400,
                "invalid_input",
                f"through: expected the business date {today} or later",
                "through",
            )
        closed = [day.isoformat() for day in run_eod(engine, body.through)]
    finally:
        _eod_running.release()
    with engine.begin() as conn:
        today = platform.business_date(conn)
        audit_write(
            conn,
            who,
            "end_of_day",
            "platform",
            {"through": body.through.isoformat(), "closed": closed},
        )
    return {"closed": closed, "business_date": today}


@router.get("/ledger-check")
def ledger_check(request: Request, who: CallerDep) -> dict[str, Any]:
    """The trial balance and every loan's sub-ledger against the journal, as
    ``crossline ledger check`` prints it."""
    require_role(who, STAFF, "check the ledger")
    with engine_of(request).connect() as conn:
        return check_ledger(conn).as_dict()


@router.post("/policies/validation", openapi_extra=POLICY_BODY)
def validate_policy(request: Request, who: CallerDep, text: PolicyText) -> dict[str, Any]:
    """Check a policy against the decision contracts and the catalog in force; list its
    tables with their rows. Nothing is stored."""
    require_role(who, STAFF, "check policies")
    with engine_of(request).connect() as conn, _policy_checked():
        bundle = check_policy(conn, text)
    _own_group(who, bundle.group)
    tables = [{"table": title, "rows": rows} for title, rows in table_sizes(bundle)]
    return {"group": bundle.group, **_version(bundle), "tables": tables}


@router.post("/policies", openapi_extra=POLICY_BODY)
def upload(request: Request, who: CallerDep, text: PolicyText) -> dict[str, Any]:
    """Check a policy and store it as a draft of its group; the same document again is
    the version already stored (and answers its role, which may be active by now)."""
    require_role(who, POLICY_CHANGERS, "upload policies")
    with engine_of(request).begin() as conn:
        with _policy_checked():
            _own_group(who, check_policy(conn, text).group)
        bundle = upload_policy(conn, text, platform.business_date(conn))
        role = policy_role(conn, bundle.group, bundle.version)
        audit_write(
            conn,
            who,
            "upload_policy",
            f"policy:{bundle.group}/{bundle.version}",
            {"digest": bundle.digest},
        )
    return {"group": bundle.group, **_version(bundle), "role": role}


@router.post("/policies/{group}/{version}/activation")
def activate(
    group: str, version: str, body: Activation, request: Request, who: CallerDep
) -> dict[str, Any]:
    """Make an uploaded version the group's champion (the previous one retires), or its
    challenger for ``challenger_share`` per cent of borrowers."""
    require_role(who, POLICY_CHANGERS, "activate policies")
    _own_group(who, group)
    share = body.challenger_share
    with engine_of(request).begin() as conn:
        try:
            activate_policy(conn, group, version, platform.business_date(conn), share)
        except PolicyError as exc:
            raise ApiError(
                422, "invalid_policy", f"the stored policy no longer checks: {exc}"
            ) from exc
        role = "champion" if share is None else "challenger"
        audit_write(
            conn,
            who,
            "activate_policy",
            f"policy:{group}/{version}",
            {"role": role, "share": share},
        )
    return {"group": group, "version": version, "role": role, "share": share}


@router.get("/policies/{group}")
def in_force(group: str, request: Request, who: CallerDep) -> dict[str, Any]:
    """The versions deciding for the group now: the champion (the shipped default until
    one is activated) and a challenger with its share, if any."""
    require_role(who, STAFF, "read policies")
    _own_group(who, group)
    with engine_of(request).connect() as conn:
        arms = policies_in_force(conn, group, platform.catalog_json(conn))
    challenger = None
    if arms.challenger is not None:
        challenger = _version(arms.challenger) | {"share": arms.share}
    return {"group": group, "champion": _version(arms.champion), "challenger": challenger}


@router.post("/policies/backtest")
def backtest_policy(body: Candidate, request: Request, who: CallerDep) -> dict[str, Any]:
    """Replay the group's stored applications from ``from`` to ``to`` through the
    candidate, beside the versions that decided them, as ``crossline policy backtest``
    prints it. Nothing is stored."""
    require_role(who, STAFF, "backtest policies")
    text = json.dumps(body.policy)
    with engine_of(request).connect() as conn, _policy_checked():
        _own_group(who, check_policy(conn, text).group)
        return backtest(conn, text, body.start, body.end).as_dict()


@router.get("/models")
def models(who: CallerDep) -> dict[str, Any]:
    """The scorecard every decision and nightly re-score uses: its version, scaling and
    characteristics with their bins and points. Read-only: a new model ships with a
    release (``crossline model train``), never through the API."""
    require_role(who, STAFF, "read models")
    return {"scorecard": default_scorecard().model_dump(mode="json")}
