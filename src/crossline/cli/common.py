"""The command line's shared parts: the Typer apps, the database options, and how a
command fails (exit 2 on bad input, naming the field) or shows progress.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from crossline.catalog import (
    catalog_to_json,
    load_catalog,
)
from crossline.store import platform
from crossline.store.engine import database_url, make_engine, upgrade

app = typer.Typer(
    help="crossline: one borrower, many credit lines, one risk view.",
    no_args_is_help=True,
    add_completion=False,
)
scenario_app = typer.Typer(help="Run scenario files.", no_args_is_help=True)
ledger_app = typer.Typer(help="Ledger checks.", no_args_is_help=True)
catalog_app = typer.Typer(help="Product catalog.", no_args_is_help=True)
model_app = typer.Typer(help="Scorecard models.", no_args_is_help=True)
bureau_app = typer.Typer(help="The credit bureau.", no_args_is_help=True)
policy_app = typer.Typer(
    help="Credit policies (crossline-policy/1 files): check, read, upload, activate.",
    no_args_is_help=True,
)
access_app = typer.Typer(
    help="Access: providers' API keys, users, and the PII key.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(ledger_app, name="ledger")
app.add_typer(catalog_app, name="catalog")
app.add_typer(model_app, name="model")
app.add_typer(bureau_app, name="bureau")
app.add_typer(policy_app, name="policy")
app.add_typer(access_app, name="access")
app.add_typer(audit_app, name="audit")

err = Console(stderr=True)
DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL (default: CROSSLINE_DATABASE_URL or sqlite:///crossline.db).",
    ),
]

CheckDatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Use this database's catalog (and for show --group, its champion); "
        "default: a throwaway database with the default catalog.",
    ),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def progress(label: str) -> Progress:
    """A progress bar on stderr: ``label``, the task's description, done of total, time left."""
    return Progress(
        TextColumn(f"{label} {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{field}: expected a date like 2026-03-31, got {value!r}") from exc


def existing_database(database: str | None) -> sa.Engine:
    """An engine on a database that is already there, for commands that only read.

    Opening a SQLite file that is not there would create it; a reader must
    refuse instead, and leave the path as it found it.
    """
    url = sa.engine.make_url(database_url(database))
    path = url.database
    on_disk = url.get_backend_name() == "sqlite" and path not in (None, "", ":memory:")
    if on_disk and not Path(str(path)).is_file():
        raise fail(f"database: no database at {path}")
    return make_engine(str(url))


def existing_book(database: str | None) -> sa.Engine:
    """An engine on an existing database that holds a book (an initialised platform)."""
    engine = existing_database(database)
    with engine.connect() as conn:
        if not platform.is_initialised(conn):
            engine.dispose()
            raise fail("database: holds no book; run `crossline init` or `crossline simulate`")
    return engine


@contextmanager
def transaction(database: str | None) -> Iterator[sa.Connection]:
    """One transaction on an initialised database: a failure inside rolls it all back."""
    engine = make_engine(database)
    try:
        with engine.begin() as conn:
            yield conn
    except platform.PlatformNotInitialisedError as exc:
        raise fail(f"database: {exc}; run `crossline init` first") from exc
    finally:
        engine.dispose()


@contextmanager
def catalog_in_force(database: str | None) -> Iterator[sa.Connection]:
    """The database a policy is checked against: the one given, or a throwaway SQLite
    database initialised with the default catalog (as ``scenario run`` uses one), so that
    a file is checked by the same code whether or not the analyst has a database."""
    if database is not None:
        with transaction(database) as conn:
            yield conn
        return
    with tempfile.TemporaryDirectory(prefix="crossline-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'policy.db'}")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                # Checking a policy reads the catalog only; the business date is never read.
                platform.initialise(
                    conn,
                    business_date=date.min,
                    catalog_json=catalog_to_json(load_catalog("default")),
                    partitions=1,
                )
                yield conn
        finally:
            engine.dispose()
