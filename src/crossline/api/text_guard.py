"""Refuse text no database column can hold, anywhere in a request, before any code sees it.

JSON may carry ``\\u0000`` or a lone surrogate such as ``\\ud800`` in a string, and
a URL may carry ``%00``. PostgreSQL's text columns cannot hold NUL, and a lone
surrogate cannot be encoded as UTF-8 at all, so such values reached the database
as a 500 (the schemathesis fuzz found a NUL in a log-in name). No field of this
API has a use for them, so the request is answered 400, naming the field,
whatever the endpoint.
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


def _storable(text: str) -> bool:
    """Whether a database text column can hold ``text``: no NUL, valid UTF-8."""
    if NUL in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _in_json(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) no column could hold, if any."""
    if isinstance(value, str):
        return None if _storable(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _storable(str(key)):
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
    """Where the body holds unstorable text; a body that is not JSON is left to the
    endpoint's own validation (it answers 400 for it)."""
    if b"\\u" not in body and b"\x00" not in body:
        return None
    try:
        return _in_json(json.loads(body), "")
    except ValueError:
        return None if b"\x00" not in body else "body"


def _in_url(scope: Scope) -> str | None:
    if not _storable(str(scope.get("path", ""))):
        return "path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if not (_storable(unquote(name)) and _storable(value)):
            return name.replace(NUL, "")
    return None


class RefuseUnstorableText:
    """ASGI middleware: 400 ``invalid_input`` for unstorable text in the path, query or
    body."""

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
        code="invalid_input",
        message=f"{field}: NUL characters and unpaired surrogates are not allowed",
        field=field,
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
