"""Who is looking at a page, and proof that a form was posted from one of ours.

A page reads the session cookie through the API's own ``access.caller``, so the portal
and console authenticate exactly as the API does. A page asked without a live session
raises ``NotLoggedInError`` (answered with a redirect to the log-in page); a page of the
wrong kind for the role (a borrower at the console) is 403.

Every form carries a CSRF token derived from the session token by HMAC: a page of
another site cannot read it, so it cannot forge a post even where the browser would
send the cookie. (The cookie is also ``SameSite=Strict``; the token does not rely on it.)
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Form, Request

from crossline.api.access import SESSION_COOKIE, Caller, caller
from crossline.api.errors import ApiError

CsrfField = Annotated[str, Form()]
"""A form's CSRF token field (missing is the same as wrong: ``check_csrf`` refuses it)."""

BORROWERS = frozenset({"borrower"})
STAFF = frozenset({"operator", "risk_admin"})


class NotLoggedInError(Exception):
    """No live session: the page sends the browser to log in."""


def viewer(request: Request, roles: frozenset[str]) -> Caller:
    """The caller behind the session cookie, who must hold one of ``roles``."""
    if request.cookies.get(SESSION_COOKIE) is None:
        raise NotLoggedInError
    try:
        who = caller(request)
    except ApiError as exc:
        raise NotLoggedInError from exc
    if who.principal.role not in roles:
        raise ApiError(403, "forbidden", f"a {who.principal.role} may not open this page")
    return who


def csrf_token(request: Request) -> str:
    """The token this session's forms carry."""
    session = request.cookies.get(SESSION_COOKIE, "")
    return hmac.new(session.encode(), b"crossline form", hashlib.sha256).hexdigest()


def check_csrf(request: Request, token: str) -> None:
    """403 for a form that did not come from a page of this session."""
    if not hmac.compare_digest(csrf_token(request), token):
        raise ApiError(403, "forbidden", "the form is stale or not ours: reload the page")
