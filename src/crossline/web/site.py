"""Mounting the portal and console on the API's app: their routes, their assets, the
redirect to the log-in page, and the security headers every page carries."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class PageHeaders:
    """ASGI middleware: ``PAGE_HEADERS`` on every HTML response, nothing on the API's JSON.

    Plain ASGI rather than ``app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
    runs every request, the API's JSON included, through a task group and memory
    streams, for headers only pages need."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in PAGE_HEADERS.items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Add the portal, the console and their assets to ``app``; none is in the OpenAPI."""
    for module in (login, portal, console, assets):
        app.include_router(module.router, include_in_schema=False)
    app.add_exception_handler(NotLoggedInError, _to_login)
    app.add_middleware(PageHeaders)
