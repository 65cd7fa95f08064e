"""Rendering a page: the templates, what every page is given, charts as data, and the
one way a refused request is shown.

Pages are routed with ``PageRoute``: a refusal anywhere in a page's handler (the API's
``ApiError``, a service's ``ServicingError``, a form field pydantic refuses) is answered
with the error page at the same status the API would give and the same message naming
the field, and, like the API, nothing was written. That includes a path or form field
of the wrong type, which FastAPI refuses before the handler runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from crossline.api.access import Caller
from crossline.api.errors import ApiError, refusal
from crossline.money import format_fen
from crossline.servicing.errors import ServicingError
from crossline.web.session import csrf_token

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["yuan"] = lambda fen: "¥" + format_fen(int(fen))


def page(
    request: Request,
    template: str,
    who: Caller | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """``template`` rendered for ``who`` (None on the log-in page), with the CSRF token
    its forms carry."""
    context |= {"who": None if who is None else who.principal, "csrf": csrf_token(request)}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def chart(figure: go.Figure) -> dict[str, Any]:
    """A figure as the data a page embeds (``{{ figure|tojson }}``); ``static/charts.js``
    draws it, so pages hold no inline script."""
    data: dict[str, Any] = json.loads(figure.to_json())
    data["config"] = {"displaylogo": False, "responsive": True}
    return data


REFUSALS = (ApiError, ServicingError, ValidationError, RequestValidationError)


class PageRoute(APIRoute):
    """A route whose refusals are shown as a page, not as the API's JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except REFUSALS as exc:
                status, detail = refusal(exc)
                return page(request, "error.html", None, status, error=detail)

        return handle
