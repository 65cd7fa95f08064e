"""``crossline collections``: the queue, and purging contact records past retention."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from crossline.cli.common import DatabaseOption, app, existing_book, fail, parse_date
from crossline.collections import collections_queue, purge_contacts
from crossline.servicing.errors import RefusedError
from crossline.store import platform

collections_app = typer.Typer(help="Collections: the queue and contact records.")
app.add_typer(collections_app, name="collections")


@collections_app.command("queue")
def queue(
    group: Annotated[
        str | None, typer.Option(help="Only this lender group's lines (default: all).")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Print the collections queue on the business date as JSON."""
    with existing_book(database).connect() as conn:
        today = platform.business_date(conn)
        entries = collections_queue(conn, today, None if group is None else {group})
    typer.echo(json.dumps({"business_date": today.isoformat(), "queue": entries}, indent=2))


@collections_app.command("purge")
def purge(
    before: Annotated[str, typer.Option(help="Delete contact records dated before this.")],
    database: DatabaseOption = None,
) -> None:
    """Delete contact records dated before ``--before``; refused (exit 2, nothing deleted)
    when that would reach into the two years they are kept."""
    cutoff = parse_date(before, "before")
    try:
        with existing_book(database).begin() as conn:
            deleted = purge_contacts(conn, cutoff)
    except RefusedError as exc:
        raise fail(f"{exc.code}: {exc.message}") from exc
    typer.echo(f"purged {deleted} contact records dated before {cutoff}")
