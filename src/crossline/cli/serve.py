"""``crossline serve``: the HTTP API over a book."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from crossline.cli.common import DatabaseOption, app, existing_book
from crossline.store.engine import upgrade


@app.command()
def serve(
    database: DatabaseOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (/v1, OpenAPI at /v1/openapi.json) over an initialised book.

    Credentials come from ``crossline access``: API keys for providers, logins for
    borrowers and console staff.
    """
    import uvicorn

    engine = existing_book(database)
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
    )
