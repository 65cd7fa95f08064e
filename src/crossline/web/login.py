"""Logging in and out of the portal and the console, through the API's own session
functions: the same argon2 check, the same cookie, the same audit entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from crossline.api.access import SESSION_COOKIE, engine_of
from crossline.api.errors import ApiError
from crossline.api.routes.sessions import Credentials, close_session, open_session
from crossline.security import authenticate_session
from crossline.security.moments import now_utc
from crossline.web.pages import PageRoute, page
from crossline.web.session import BORROWERS, STAFF, NotLoggedInError, check_csrf, viewer

router = APIRouter(route_class=PageRoute)

LOGIN_PATH = "/login"
HOME = {"borrower": "/portal", "operator": "/console", "risk_admin": "/console"}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: a ``next`` of another origin would make the log-in
    page an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/")
def root(request: Request) -> Response:
    """Home: the portal or the console by the session's role, else the log-in page."""
    try:
        role = viewer(request, BORROWERS | STAFF).principal.role
    except NotLoggedInError:
        return RedirectResponse(LOGIN_PATH, status_code=303)
    return RedirectResponse(HOME[role], status_code=303)


@router.get(LOGIN_PATH)
def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", None, next=_safe_next(next))


@router.post(LOGIN_PATH)
def log_in(
    request: Request,
    login: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """A wrong login or password shows the form again (401) with one message for both."""
    response = Response()
    try:
        answer = open_session(Credentials(login=login, password=password), request, response)
    except ApiError:
        return page(
            request,
            "login.html",
            None,
            401,
            next=_safe_next(next),
            failed=True,
            login=login,
        )
    role = _role_of(answer["token"], request)
    target = _safe_next(next) if role is not None and _fits(next, role) else None
    redirect = RedirectResponse(target or HOME.get(role or "", LOGIN_PATH), status_code=303)
    redirect.headers["set-cookie"] = response.headers["set-cookie"]
    return redirect


def _role_of(token: str, request: Request) -> str | None:
    """The role the new session stands for (providers do not log in here)."""
    with engine_of(request).connect() as conn:
        principal = authenticate_session(conn, token, now_utc())
    return None if principal is None else principal.role


def _fits(target: str | None, role: str) -> bool:
    """``next`` leads where the role may go: a borrower's into the portal, staff's into
    the console."""
    prefix = "/portal" if role in BORROWERS else "/console" if role in STAFF else None
    return bool(target and prefix and target.startswith(prefix))


@router.post("/logout")
def log_out(request: Request, csrf: Annotated[str, Form()]) -> Response:
    who = viewer(request, BORROWERS | STAFF)
    check_csrf(request, csrf)
    close_session(request, who)
    redirect = RedirectResponse(LOGIN_PATH, status_code=303)
    redirect.delete_cookie(SESSION_COOKIE)
    return redirect
