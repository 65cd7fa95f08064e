"""How the API says no: a status, a machine code, the field at fault and a sentence.

Every 4xx body has the same shape, ``{"error": {"code", "message", "field"}}``,
so a lender's system can branch on ``code`` and show ``message``. A 4xx means
nothing was written: the request's transaction is rolled back before the
answer is built. Nothing of a stack trace ever reaches the client; an
unexpected failure is a bare 500 with a code, and the detail goes to the log.

Statuses: bad input is 400 and names the field; a borrower, line or record the
caller may not see is 404 whether or not it exists (ids are not probed); a
request that conflicts with the state (a reused idempotency key, end-of-day
running, a line that exists) is 409; a well-formed request the rules decline is
422 with the rule's code; too many wrong secrets for one login or key of late is
429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossline.security.throttle import TooManyAttemptsError
from crossline.servicing.errors import InputError, ServicingError

log = logging.getLogger("crossline.api")

NOT_FOUND_CODES = frozenset(
    {
        "not_found",
        "unknown_borrower",
        "unknown_product",
        "unknown_application",
        "unknown_document",
        "unknown_policy",
        "no_line",
        "no_record",
        "no_statement",
        "no_cycle",
    }
)
"""Refusals that mean "there is no such thing for you": 404, as for anything hidden."""
CONFLICT_CODES = frozenset(
    {
        "idempotency_conflict",
        "eod_in_progress",
        "line_exists",
        "duplicate_borrower",
        "version_exists",
    }
)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Bad input; `field` names it. Nothing written."},
    401: {"model": ErrorBody, "description": "No valid API key or session."},
    403: {"model": ErrorBody, "description": "This role may not use this endpoint."},
    404: {"model": ErrorBody, "description": "Not found, or not the caller's to see."},
    409: {"model": ErrorBody, "description": "Conflicts with the state. Nothing written."},
    429: {
        "model": ErrorBody,
        "description": "Too many wrong secrets for this login or key of late; see Retry-After.",
    },
    422: {"model": ErrorBody, "description": "Declined by the rules. Nothing written."},
}
"""The error answers every endpoint may give, documented in the OpenAPI schema."""


class ApiError(Exception):
    """An answer other than success, raised anywhere in a request."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(code=code, message=message, field=field)


def not_found(what: str) -> ApiError:
    """The one answer for missing and not-yours alike."""
    return ApiError(404, "not_found", f"{what} not found")


def status_of(error: ServicingError) -> int:
    """The HTTP status of a refusal from the services."""
    if isinstance(error, InputError):
        return 400
    if isinstance(error, TooManyAttemptsError):
        return 429
    if error.code in NOT_FOUND_CODES:
        return 404
    if error.code in CONFLICT_CODES:
        return 409
    return 422


def _answer(status: int, detail: ErrorDetail) -> JSONResponse:
    return JSONResponse(ErrorBody(error=detail).model_dump(), status_code=status)


def _field(location: tuple[Any, ...]) -> str:
    """``("body", "amount")`` -> ``amount``; ``("header", "idempotency-key")`` -> the header."""
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _answer(*refusal(exc))


Refusal = ApiError | ServicingError | ValidationError | RequestValidationError
"""Every way a request is refused for what it asked, not for a fault of ours."""


def refusal(exc: Refusal) -> tuple[int, ErrorDetail]:
    """The status and detail of a refused request, whether the API or the portal and
    console (``crossline.web``, which shows it on the page) was asked."""
    if isinstance(exc, ApiError):
        return exc.status, exc.detail
    if isinstance(exc, ValidationError | RequestValidationError):
        return _invalid(exc.errors())
    status = status_of(exc)
    if status == 404:
        return 404, ErrorDetail(code="not_found", message="not found")
    field = exc.field if isinstance(exc, InputError) else None
    return status, ErrorDetail(code=exc.code, message=exc.message, field=field)


def _invalid(problems: Sequence[Any]) -> tuple[int, ErrorDetail]:
    """The first problem pydantic found, naming its field."""
    first = problems[0]
    field = _field(tuple(first.get("loc", ())))
    message = f"{field}: {first.get('msg', 'invalid')}"
    return 400, ErrorDetail(code="invalid_input", message=message, field=field)


async def _servicing_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServicingError)
    answer = _answer(*refusal(exc))
    if isinstance(exc, TooManyAttemptsError):
        answer.headers["Retry-After"] = str(exc.retry_after)
    return answer


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _answer(*_invalid(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _answer(404, ErrorDetail(code="not_found", message="not found"))
    code = {401: "unauthenticated", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _answer(exc.status_code, ErrorDetail(code=code, message=str(exc.detail)))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected failure on %s %s", request.method, request.url.path)
    return _answer(500, ErrorDetail(code="internal_error", message="internal error"))


def install(app: FastAPI) -> None:
    """Answer every failure in the one shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(ServicingError, _servicing_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
