"""The FastAPI application: routes under ``/v1``, one error shape, OpenAPI served, the
borrower portal and risk console (``crossline.web``), and the outbox worker running
beside it for the app's lifetime."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from anyio import to_thread
from fastapi import FastAPI

from crossline import web
from crossline.api import errors
from crossline.api.outbox_worker import OutboxWorker
from crossline.api.routes import (
    borrowers,
    bureau,
    collections,
    commands,
    operations,
    platform,
    sessions,
    whatif,
)
from crossline.api.text_guard import RefuseUnstorableText
from crossline.security.pii import PiiCipher
from crossline.store.engine import make_engine

API_PREFIX = "/v1"
REQUEST_THREADS = int(os.environ.get("CROSSLINE_REQUEST_THREADS", "15"))
"""Requests a process works on at once: SQLAlchemy's pool holds 5 connections and lends
10 more, so a thread beyond 15 would only queue for a connection inside the request it
already holds (docs/decisions.md, "Request threads")."""


def create_app(
    engine: sa.Engine,
    cipher: PiiCipher,
    *,
    handle_events: bool = True,
    request_threads: int = REQUEST_THREADS,
) -> FastAPI:
    """The API over ``engine``'s book (upgraded to the latest schema by the caller);
    ``cipher`` seals and opens borrowers' identities. ``handle_events=False`` leaves the
    outbox to another process (or, in a test, to nobody). ``request_threads`` bounds
    the requests a process works on at once (``REQUEST_THREADS``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = request_threads
        if not handle_events:
            yield
            return
        worker = OutboxWorker(engine)
        worker.start()
        yield
        worker.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="crossline",
        summary="Consumer credit across products and lender groups, on one exact ledger.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.cipher = cipher
    errors.install(app)
    app.add_middleware(RefuseUnstorableText)
    for module in (
        sessions,
        commands,
        borrowers,
        bureau,
        whatif,
        platform,
        operations,
        collections,
    ):
        app.include_router(module.router, prefix=API_PREFIX, responses=errors.ERROR_RESPONSES)
    web.install(app)
    return app


def from_environment() -> FastAPI:
    """The app over ``CROSSLINE_DATABASE_URL`` (default SQLite) with the PII key in
    ``CROSSLINE_PII_KEY``: what each ``crossline serve`` worker process runs."""
    return create_app(make_engine(), PiiCipher.from_env())
