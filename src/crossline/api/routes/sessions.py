"""Logging in and out: a session for borrowers and console staff.

The token comes back in the body (for API clients, as ``Authorization: Bearer``)
and as an HttpOnly cookie (for the portal and console). A wrong password and an
unknown login get the same answer; past the throttle's limit (``security.throttle``)
the answer is 429 without a check. Every outcome is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import (
    SESSION_COOKIE,
    Caller,
    CallerDep,
    audit_write,
    credential,
    engine_of,
    source_of,
)
from crossline.api.errors import ApiError
from crossline.security import audit, log_in, log_out
from crossline.security.sessions import SESSION_LIFETIME
from crossline.security.throttle import TooManyAttemptsError

router = APIRouter(prefix="/sessions", tags=["sessions"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("")
def open_session(body: Credentials, request: Request, response: Response) -> dict[str, Any]:
    """Log in; the session lasts ``SESSION_LIFETIME``."""
    now = datetime.now(UTC)
    throttled: TooManyAttemptsError | None = None
    with engine_of(request).begin() as conn:
        try:
            token = log_in(conn, body.login, body.password, now)
        except TooManyAttemptsError as exc:
            token, throttled = None, exc
        action = "log_in" if token else "log_in_throttled" if throttled else "log_in_refused"
        audit.record(
            conn,
            actor=body.login,
            role="anonymous",
            action=action,
            target=f"user:{body.login}",
            source=source_of(request),
            detail={},
            at=now,
        )
    if throttled is not None:
        raise throttled
    if token is None:
        raise ApiError(401, "invalid_credentials", "login or password is wrong")
    seconds = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=seconds, httponly=True, samesite="strict")
    return {"token": token, "expires_in": seconds}


@router.delete("", status_code=204)
def close_session(request: Request, who: CallerDep) -> Response:
    """Log out: the session's token stops working at once."""
    token = _session_token(request, who)
    with engine_of(request).begin() as conn:
        log_out(conn, token)
        audit_write(conn, who, "log_out", f"user:{who.principal.subject}", {})
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _session_token(request: Request, who: Caller) -> str:
    """The session being closed; an API key is not a session."""
    token = credential(request)
    if who.principal.role == "provider" or token is None:
        raise ApiError(403, "forbidden", "an API key has no session to close")
    return token
