"""The FastAPI application: routes under ``/v1``, one error shape, OpenAPI served, the
borrower portal and risk console (``crossline.web``), and the outbox and notification
delivery rounds running beside it for the app's lifetime (``api.pollers``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import sqlalchemy as sa
from anyio import to_thread
from fastapi import FastAPI

from crossline import web
from crossline.api import errors
from crossline.api.pollers import DELIVERY_SECONDS, OUTBOX_SECONDS, Poller
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
from crossline.events.delivery import configured_channels, deliver_pending
from crossline.events.handlers import handle_pending
from crossline.security.pii import PiiCipher
from crossline.store.checkpoints import Checkpointer
from crossline.store.engine import make_engine

API_PREFIX = "/v1"
REQUEST_THREADS = int(os.environ.get("CROSSLINE_REQUEST_THREADS", "15"))
"""Requests a process works on at once; its connection pool keeps one connection open
for each, and one for each background round (docs/decisions.md, "Request threads")."""
BACKGROUND_CONNECTIONS = 2
"""The outbox and delivery rounds' connections, beside the requests'."""


def create_app(
    engine: sa.Engine,
    cipher: PiiCipher,
    *,
    handle_events: bool = True,
    request_threads: int = REQUEST_THREADS,
    deliver_every: float = 0,
) -> FastAPI:
    """The API over ``engine``'s book (upgraded to the latest schema by the caller);
    ``cipher`` seals and opens borrowers' identities. ``handle_events=False`` leaves the
    outbox to another process (or, in a test, to nobody). ``request_threads`` bounds
    the requests a process works on at once (``REQUEST_THREADS``). ``deliver_every``
    seconds, notifications go to the configured channels (0: not by this process)."""
    channels = configured_channels() if deliver_every > 0 else []

    def deliver() -> None:
        deliver_pending(engine, channels, cipher)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = request_threads
        pollers = []
        if handle_events:
            pollers.append(Poller("outbox", lambda: handle_pending(engine), OUTBOX_SECONDS))
        if channels:
            pollers.append(Poller("delivery", deliver, deliver_every))
        for poller in pollers:
            poller.start()
        with Checkpointer(engine):
            yield
        for poller in pollers:
            poller.stop()

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
    ``CROSSLINE_PII_KEY``, delivering notifications every ``CROSSLINE_DELIVERY_SECONDS``
    (default ``DELIVERY_SECONDS``): what each ``crossline serve`` worker process runs."""
    engine = make_engine(pool_size=REQUEST_THREADS + BACKGROUND_CONNECTIONS)
    return create_app(engine, PiiCipher.from_env(), deliver_every=delivery_seconds())


def delivery_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """``CROSSLINE_DELIVERY_SECONDS`` as a number of seconds (0 turns delivery off)."""
    text = environ.get("CROSSLINE_DELIVERY_SECONDS", str(DELIVERY_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ValueError(
            f"CROSSLINE_DELIVERY_SECONDS: expected seconds from 0 to 3600, got {text!r}"
        )
    return seconds
