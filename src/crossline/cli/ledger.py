"""Setting up a book and running it: init, end-of-day, the ledger check, the catalog."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crossline.catalog import (
    CatalogError,
    catalog_to_json,
    load_catalog,
    offer_aprs,
)
from crossline.catalog.apr import format_percent
from crossline.cli.common import (
    DatabaseOption,
    app,
    catalog_app,
    existing_book,
    fail,
    ledger_app,
    parse_date,
    progress,
)
from crossline.eod.runner import run_eod
from crossline.ledger.check import check_ledger
from crossline.store import platform
from crossline.store.engine import database_url, make_engine, upgrade


@app.command()
def init(
    start: Annotated[str, typer.Option(help="First business date, e.g. 2026-03-01.")],
    catalog: Annotated[str, typer.Option(help="'default' or a catalog TOML path.")] = "default",
    partitions: Annotated[int, typer.Option(help="End-of-day partitions.")] = 4,
    database: DatabaseOption = None,
) -> None:
    """Create the schema and the platform's business date and catalog."""
    first = parse_date(start, "start")
    try:
        loaded = load_catalog(catalog)
    except (CatalogError, OSError) as exc:
        raise fail(f"catalog: {exc}") from exc
    engine = make_engine(database)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            platform.initialise(
                conn,
                business_date=first,
                catalog_json=catalog_to_json(loaded),
                partitions=partitions,
            )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"initialised {database_url(database)} at business date {first}")


@app.command()
def eod(
    through: Annotated[str, typer.Option(help="Close every business date up to this one.")],
    database: DatabaseOption = None,
) -> None:
    """Run end-of-day for each business date through ``--through``."""
    last = parse_date(through, "through")
    engine = make_engine(database)
    with engine.connect() as conn:
        try:
            first = platform.business_date(conn)
            total = platform.partitions(conn)
        except platform.PlatformNotInitialisedError as exc:
            raise fail(f"database: {exc}; run `crossline init` first") from exc
    days = max(0, (last - first).days + 1)
    with progress("EOD") as bar:
        task = bar.add_task(str(first), total=days * total)
        closed = run_eod(
            engine,
            last,
            lambda day, _done, _total: bar.update(task, advance=1, description=str(day)),
        )
    with engine.connect() as conn:
        today = platform.business_date(conn)
    typer.echo(json.dumps({"closed": [str(d) for d in closed], "business_date": str(today)}))


@ledger_app.command("check")
def ledger_check(database: DatabaseOption = None) -> None:
    """Prove the trial balance and every loan's sub-ledger against the journal."""
    engine = existing_book(database)
    with engine.connect() as conn:
        result = check_ledger(conn)
    typer.echo(json.dumps(result.as_dict()))
    if not result.balanced:
        raise typer.Exit(1)


@catalog_app.command("show")
def catalog_show(source: Annotated[str, typer.Argument()] = "default") -> None:
    """Load a catalog (refusing one above the APR cap) and list every offer's APR."""
    try:
        loaded = load_catalog(source)
    except (CatalogError, OSError) as exc:
        raise fail(str(exc)) from exc
    table = Table("product", "offer", "price", "APR")
    for product in loaded.products:
        for offer in offer_aprs(product):
            table.add_row(product.id, offer.describe(), str(offer.rate), format_percent(offer.apr))
    Console().print(table)
