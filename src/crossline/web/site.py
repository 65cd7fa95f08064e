"""Mounting the portal and console on the API's app: their routes, their assets, the
redirect to the log-in page, and the security headers every page carries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from crossline.web import assets, console, login, portal
from crossline.web.session import NotLoggedInError

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Scripts only from this server (plotly draws with inline styles, hence the style
exception); no framing; pages hold personal data, so nothing is cached."""


async def _to_login(request: Request, _exc: Exception) -> Response:
    """A page asked without a live session goes to the log-in page, and back after."""
    target = request.url.path
    return RedirectResponse(f"{login.LOGIN_PATH}?next={target}", status_code=303)


async def _page_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers.update(PAGE_HEADERS)
    return response


def install(app: FastAPI) -> None:
    """Add the portal, the console and their assets to ``app``; none is in the OpenAPI."""
    for module in (login, portal, console, assets):
        app.include_router(module.router, include_in_schema=False)
    app.add_exception_handler(NotLoggedInError, _to_login)
    app.middleware("http")(_page_headers)
