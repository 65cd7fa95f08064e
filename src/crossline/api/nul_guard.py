"""Refuse the NUL character anywhere in a request, before any code sees it.

JSON may carry ``\\u0000`` in a string and a URL may carry ``%00``; PostgreSQL's
text columns cannot hold it, so such a value reached the database as a 500 (the
schemathesis fuzz found it in a log-in name). No field of this API has a use
for it, so the request is answered 400, naming the field, whatever the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from crossline.api.errors import ErrorBody, ErrorDetail

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

NUL = "\x00"


def _in_json(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) holding NUL, if any."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return where
            found = _in_json(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _in_json(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def _in_body(body: bytes) -> str | None:
    if b"\\u0000" not in body.lower() and b"\x00" not in body:
        return None
    try:
        return _in_json(json.loads(body), "") or "body"
    except ValueError:
        return "body"


def _in_url(scope: Scope) -> str | None:
    if NUL in str(scope.get("path", "")):
        return "path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if NUL in unquote(name) or NUL in value:
            return name.replace(NUL, "")
    return None


class RefuseNul:
    """ASGI middleware: 400 ``invalid_input`` for a NUL in the path, query or body."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        field = _in_url(scope) or _in_body(body)
        if field is not None:
            await _refuse(send, field)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send: Send, field: str) -> None:
    detail = ErrorDetail(
        code="invalid_input", message=f"{field}: the NUL character is not allowed", field=field
    )
    payload = ErrorBody(error=detail).model_dump_json().encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
