"""``crossline serve``: the HTTP API over a book."""

from __future__ import annotations

import copy
import os
from typing import Annotated, Any

import typer

from crossline.cli.common import DatabaseOption, app, existing_book, fail
from crossline.security.national_ids import RedactNationalIds
from crossline.store.engine import is_sqlite, upgrade


@app.command()
def serve(
    database: DatabaseOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (/v1, OpenAPI at /v1/openapi.json) over an initialised book.

    Credentials come from ``crossline access``: API keys for providers, logins for
    borrowers and console staff. Each process delivers notifications every
    ``CROSSLINE_DELIVERY_SECONDS`` (default 5; 0 leaves it to ``crossline
    notifications deliver``), to the log and, with ``CROSSLINE_SMTP_HOST``, by mail.
    """
    import uvicorn

    from crossline.api.app import delivery_seconds
    from crossline.events.delivery import configured_channels

    try:
        if delivery_seconds() > 0:
            configured_channels()
    except ValueError as exc:
        raise fail(str(exc)) from exc
    engine = existing_book(database)
    if workers > 1 and is_sqlite(engine):
        raise fail("workers: SQLite has one writer; serve it from one process, or use PostgreSQL")
    upgrade(engine)
    engine.dispose()
    # Each worker process builds its own app and engine from the environment.
    os.environ["CROSSLINE_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    uvicorn.run(
        "crossline.api.app:from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=log_config(),
    )


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with every handler masking national IDs (``RedactNationalIds``)
    and crossline's own loggers sent to the same handler: logs never hold one."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": RedactNationalIds}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["loggers"]["crossline"] = {"handlers": ["default"], "level": "INFO"}
    return config
