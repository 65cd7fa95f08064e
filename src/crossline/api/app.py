"""The FastAPI application: routes under ``/v1``, one error shape, OpenAPI served."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from crossline.api import errors
from crossline.api.routes import borrowers, bureau, commands, operations, platform, sessions
from crossline.security.pii import PiiCipher
from crossline.store.engine import make_engine

API_PREFIX = "/v1"


def create_app(engine: sa.Engine, cipher: PiiCipher) -> FastAPI:
    """The API over ``engine``'s book (upgraded to the latest schema by the caller);
    ``cipher`` seals and opens borrowers' identities."""
    app = FastAPI(
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
    for module in (sessions, commands, borrowers, bureau, platform, operations):
        app.include_router(module.router, prefix=API_PREFIX)
    return app


def from_environment() -> FastAPI:
    """The app over ``CROSSLINE_DATABASE_URL`` (default SQLite) with the PII key in
    ``CROSSLINE_PII_KEY``: what each ``crossline serve`` worker process runs."""
    return create_app(make_engine(), PiiCipher.from_env())
