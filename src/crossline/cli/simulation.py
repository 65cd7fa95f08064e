"""The simulator, the portfolio report, and the demo that runs one into the other."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from crossline.calendar import add_months
from crossline.catalog import load_catalog
from crossline.cli.common import (
    DatabaseOption,
    app,
    existing_book,
    fail,
    parse_date,
    progress,
)
from crossline.report import EmptyBookError, Report, build_report
from crossline.sim.run import Simulation
from crossline.sim.run import simulate as run_simulation
from crossline.sim.traits import CALIBRATED_SHOCKS, STRESSED_SHOCKS
from crossline.store import platform
from crossline.store.engine import make_engine

DEMO_BORROWERS = 500
DEMO_MONTHS = 12


def _simulate_into(
    out: Path,
    database: str | None,
    borrowers: int,
    months: int,
    seed: int,
    start: str,
    stressed: bool,
) -> tuple[sa.Engine, Simulation]:
    """Run the simulator into ``database`` (default: a SQLite file in ``out``) with a
    progress bar, and write ``simulation.json`` beside it."""
    first = parse_date(start, "start")
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database or f"sqlite:///{out / SIMULATION_DB}")
    with engine.connect() as conn:
        if platform.is_initialised(conn):
            raise fail("database: already holds a book; simulate starts from an empty one")
    days = (add_months(first, months) - first).days
    with progress("simulating") as bar:
        task = bar.add_task(str(first), total=days)
        result = run_simulation(
            engine,
            load_catalog("default"),
            borrowers,
            months,
            seed,
            first,
            lambda day, _commands: bar.update(task, advance=1, description=str(day)),
            STRESSED_SHOCKS if stressed else CALIBRATED_SHOCKS,
        )
    (out / "simulation.json").write_text(_summary(result), encoding="utf-8")
    return engine, result


def _summary(result: Simulation) -> str:
    return json.dumps(asdict(result), default=str, indent=2) + "\n"


SIMULATION_DB = "simulation.db"
BorrowersOption = Annotated[int, typer.Option(min=1, help="How many borrowers.")]
MonthsOption = Annotated[int, typer.Option(min=1, max=36, help="How many months.")]
SeedOption = Annotated[int, typer.Option(help="The same seed gives the same book.")]
StartOption = Annotated[str, typer.Option(help="First business date.")]
StressedOption = Annotated[
    bool,
    typer.Option(
        help="A downturn: three times as many liquidity shocks, lasting longer, "
        "instead of the calibrated book."
    ),
]


@app.command()
def simulate(
    borrowers: BorrowersOption = 1_000,
    months: MonthsOption = 12,
    seed: SeedOption = 7,
    start: StartOption = "2026-01-01",
    out: Annotated[Path, typer.Option(help="Folder for simulation.json.")] = Path("simulation"),
    database: DatabaseOption = None,
    stressed: StressedOption = False,
) -> None:
    """Simulate a population of borrowers through the engine on an empty database."""
    _engine, result = _simulate_into(out, database, borrowers, months, seed, start, stressed)
    typer.echo(_summary(result), nl=False)
    if not result.ledger_balanced:
        raise typer.Exit(1)


def _write_report(engine: sa.Engine, path: Path) -> Report:
    with engine.connect() as conn:
        try:
            report = build_report(conn)
        except EmptyBookError as error:
            raise fail(str(error)) from error
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.html(), encoding="utf-8")
    return report


@app.command("report")
def report_command(
    database: DatabaseOption = None,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write the portfolio report of a book as one self-contained HTML file."""
    report = _write_report(existing_book(database), out)
    _print_figures(report, "crossline portfolio report")
    typer.echo(f"report written to {out}")


def _print_figures(report: Report, title: str, result: Simulation | None = None) -> None:
    table = Table("", "", title=title, show_header=False)
    for name, value in report.figures:
        table.add_row(name, value)
    if result is not None:
        commands = sum(n for kind, n in result.commands.items() if ":refused:" not in kind)
        refused = sum(n for kind, n in result.commands.items() if ":refused:" in kind)
        table.add_row("commands through the engine", f"{commands} ({refused} refused)")
        table.add_row(
            "ledger",
            f"{result.journal_entries} entries, "
            + ("balanced" if result.ledger_balanced else "UNBALANCED"),
        )
    console = Console(width=160)
    console.print(table)
    for section in report.sections:
        console.print(f"[bold]{escape(section.title)}[/bold]: {escape(section.reading)}")


@app.command()
def demo(
    borrowers: BorrowersOption = DEMO_BORROWERS,
    months: MonthsOption = DEMO_MONTHS,
    seed: SeedOption = 7,
    start: StartOption = "2026-01-01",
    out: Annotated[Path, typer.Option(help="Folder for the book and report.html.")] = Path("demo"),
    stressed: StressedOption = False,
) -> None:
    """Simulate a population for a year on SQLite, print what happened, write report.html.

    The folder is the demo's own: a book a previous demo left there is replaced.
    """
    for suffix in ("", "-wal", "-shm"):
        (out / f"{SIMULATION_DB}{suffix}").unlink(missing_ok=True)
    engine, result = _simulate_into(out, None, borrowers, months, seed, start, stressed)
    report = _write_report(engine, out / "report.html")
    _print_figures(report, f"crossline demo: {borrowers} borrowers, {months} months", result)
    typer.echo(f"report written to {out / 'report.html'}")
    if not result.ledger_balanced:
        raise typer.Exit(1)
