"""The ``crossline`` command line.

Exit codes: 0 success, 1 a check that found a problem (e.g. an unbalanced
ledger), 2 bad input (the message names the field; nothing was written).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from crossline.bureau.render import render_report
from crossline.bureau.report import credit_report
from crossline.calendar import add_months
from crossline.catalog import (
    CatalogError,
    catalog_from_json,
    catalog_to_json,
    load_catalog,
    offer_aprs,
)
from crossline.catalog.apr import format_percent
from crossline.decisions.backtest import backtest
from crossline.decisions.policies import (
    activate_policy,
    check_policy,
    default_policy_text,
    policies_in_force,
    upload_policy,
)
from crossline.eod.runner import run_eod
from crossline.ledger.check import check_ledger
from crossline.policy.bundle import Bundle
from crossline.policy.errors import PolicyError
from crossline.policy.render import render_policy, table_title
from crossline.report import EmptyBookError, Report, build_report
from crossline.scenario.runner import run_scenario, whatif
from crossline.scenario.spec import MAX_WHATIF_DAYS, ScenarioError, load_scenario, whatif_steps
from crossline.scoring.book import matured_snapshots
from crossline.scoring.monitor import monitor
from crossline.scoring.scorecard import Scorecard, ScorecardError, default_scorecard
from crossline.scoring.synthetic import DEFAULT_ROWS, REASONS, TARGET, synthetic_history
from crossline.servicing.errors import InputError, RefusedError
from crossline.sim.run import Simulation
from crossline.sim.run import simulate as run_simulation
from crossline.store import platform
from crossline.store.engine import database_url, make_engine, upgrade
from crossline.store.schema import borrowers, policies

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
app.add_typer(scenario_app, name="scenario")
app.add_typer(ledger_app, name="ledger")
app.add_typer(catalog_app, name="catalog")
app.add_typer(model_app, name="model")
app.add_typer(bureau_app, name="bureau")
app.add_typer(policy_app, name="policy")

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


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _progress(label: str) -> Progress:
    """A progress bar on stderr: ``label``, the task's description, done of total, time left."""
    return Progress(
        TextColumn(f"{label} {{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"{field}: expected a date like 2026-03-31, got {value!r}") from exc


@app.command()
def init(
    start: Annotated[str, typer.Option(help="First business date, e.g. 2026-03-01.")],
    catalog: Annotated[str, typer.Option(help="'default' or a catalog TOML path.")] = "default",
    partitions: Annotated[int, typer.Option(help="End-of-day partitions.")] = 4,
    database: DatabaseOption = None,
) -> None:
    """Create the schema and the platform's business date and catalog."""
    first = _parse_date(start, "start")
    try:
        loaded = load_catalog(catalog)
    except (CatalogError, OSError) as exc:
        raise _fail(f"catalog: {exc}") from exc
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
        raise _fail(str(exc)) from exc
    typer.echo(f"initialised {database_url(database)} at business date {first}")


@app.command()
def eod(
    through: Annotated[str, typer.Option(help="Close every business date up to this one.")],
    database: DatabaseOption = None,
) -> None:
    """Run end-of-day for each business date through ``--through``."""
    last = _parse_date(through, "through")
    engine = make_engine(database)
    with engine.connect() as conn:
        try:
            first = platform.business_date(conn)
            total = platform.partitions(conn)
        except platform.PlatformNotInitialisedError as exc:
            raise _fail(f"database: {exc}; run `crossline init` first") from exc
    days = max(0, (last - first).days + 1)
    with _progress("EOD") as bar:
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
    engine = make_engine(database)
    with engine.connect() as conn:
        result = check_ledger(conn)
    typer.echo(
        json.dumps(
            {
                "balanced": result.balanced,
                "journal_lines": result.lines,
                "entries": result.entries,
                "total_fen": result.total_fen,
                "unbalanced_entries": result.unbalanced_entries[:20],
                "mismatches": [asdict(m) for m in result.mismatches[:20]],
            }
        )
    )
    if not result.balanced:
        raise typer.Exit(1)


@catalog_app.command("show")
def catalog_show(source: Annotated[str, typer.Argument()] = "default") -> None:
    """Load a catalog (refusing one above the APR cap) and list every offer's APR."""
    try:
        loaded = load_catalog(source)
    except (CatalogError, OSError) as exc:
        raise _fail(str(exc)) from exc
    table = Table("product", "offer", "price", "APR")
    for product in loaded.products:
        for offer in offer_aprs(product):
            table.add_row(product.id, offer.describe(), str(offer.rate), format_percent(offer.apr))
    Console().print(table)


@model_app.command("train")
def model_train(
    out: Annotated[Path, typer.Option(help="Folder to write scorecard.json into.")],
    data: Annotated[Path | None, typer.Option(help="Training table (CSV).")] = None,
    target: Annotated[str | None, typer.Option(help="Target column of --data.")] = None,
    bad: Annotated[
        str | None, typer.Option(help="Target value meaning bad (default: target is 0/1, 1 bad).")
    ] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Train on the simulated history instead.")
    ] = False,
    rows: Annotated[
        int | None, typer.Option(min=1, help=f"Simulated borrowers (default {DEFAULT_ROWS}).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Model version (default: default-1, or <csv name>-1).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the split, the folds and the history.")] = 7,
    from_book: Annotated[
        bool,
        typer.Option(
            "--from-book",
            help="Train on the platform's month-end snapshots (label: 90+ DPD within 12 months).",
        ),
    ] = False,
    group: Annotated[
        str | None, typer.Option(help="With --from-book: one lender group's views only.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Train a scorecard, write OUT/scorecard.json and print its metrics as one JSON line."""
    if [synthetic, data is not None, from_book].count(True) != 1:
        raise _fail("give one of --data CSV (with --target), --synthetic or --from-book")
    if data is None and (target is not None or bad is not None):
        raise _fail("--target and --bad apply to --data; the other sources' target is fixed")
    if (group is not None or database is not None) and not from_book:
        raise _fail("--group and --database apply to --from-book")
    if data is not None and rows is not None:
        raise _fail("--rows applies to --synthetic; --data trains on every row of the file")
    if data is not None and target is None:
        raise _fail("--target: required with --data")
    if out.exists() and not out.is_dir():
        raise _fail(f"out: {out} exists and is not a folder")
    default_name = "book-1" if from_book else "default-1" if data is None else f"{data.stem}-1"
    name = version if version is not None else default_name
    if not name.strip():
        raise _fail("version: expected a non-empty text")
    try:
        from crossline.scoring import train
    except ImportError as exc:
        raise _fail(
            escape(f"training needs the train extra (pip install 'crossline[train]'): {exc}")
        ) from exc
    try:
        if data is not None and target is not None:
            result = train.train_scorecard(train.read_csv(data), target, bad, name, None, seed)
        elif from_book:
            book = _book_history(database, group)
            result = train.train_scorecard(book, TARGET, None, name, REASONS, seed)
        else:
            history = synthetic_history(rows or DEFAULT_ROWS, seed).to_pandas()
            result = train.train_scorecard(history, TARGET, None, name, REASONS, seed)
    except train.TrainingError as exc:
        raise _fail(escape(str(exc))) from exc
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scorecard.json"
    path.write_text(result.card.to_json(), encoding="utf-8")
    typer.echo(json.dumps({**result.metrics, "version": name, "scorecard": str(path)}))


def _book_history(database: str | None, group: str | None) -> Any:
    """The matured month-end snapshots as a training table of the scorecard's features."""
    with make_engine(database).connect() as conn:
        matured = matured_snapshots(conn, group)
    if matured.is_empty():
        raise _fail(
            "from-book: no month-end snapshot has 12 months of outcomes yet; "
            "run the book (or a simulation) for at least 13 months first"
        )
    return matured.select(*REASONS, TARGET).to_pandas()


@bureau_app.command("report")
def bureau_report(
    borrower: Annotated[str, typer.Argument(help="Borrower id.")],
    database: DatabaseOption = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Report date (default: the business date).")
    ] = None,
) -> None:
    """Print the borrower's personal credit report as the bureau shows it."""
    with make_engine(database).connect() as conn:
        day = platform.business_date(conn) if as_of is None else _parse_date(as_of, "as-of")
        known = conn.execute(
            sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower)
        ).first()
        if known is None:
            raise _fail(f"borrower: {borrower!r} is not registered")
        report = credit_report(conn, borrower, day)
    Console().print(render_report(report))


@model_app.command("monitor")
def model_monitor(
    database: DatabaseOption = None,
    model: Annotated[
        Path | None, typer.Option(help="Scorecard JSON (default: the packaged default).")
    ] = None,
    group: Annotated[str | None, typer.Option(help="One lender group's views only.")] = None,
) -> None:
    """Print PSI per characteristic and of the score, and AUC/KS on matured outcomes (JSON)."""
    try:
        card = default_scorecard() if model is None else Scorecard.load(model)
    except ScorecardError as exc:
        raise _fail(escape(str(exc))) from exc
    with make_engine(database).connect() as conn:
        typer.echo(json.dumps(monitor(conn, card, group)))


def _run_file(path: Path, database: str | None) -> dict[str, Any]:
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise _fail(str(exc)) from exc
    if database is not None:
        return run_scenario(scenario, make_engine(database))
    with tempfile.TemporaryDirectory(prefix="crossline-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scenario.db'}")
        try:
            return run_scenario(scenario, engine)
        finally:
            engine.dispose()


@scenario_app.command("run")
def scenario_run(
    file: Annotated[Path, typer.Argument(exists=False)], database: DatabaseOption = None
) -> None:
    """Run a scenario file (default: on a fresh temporary SQLite database); print JSON."""
    outcome = _run_file(file, database)
    json.dump(outcome, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if not outcome["ledger"]["balanced"]:
        raise typer.Exit(1)


WhatIfFile = Annotated[
    Path,
    typer.Option(
        "--scenario",
        help="YAML: days (default 90) and dated steps, as in a scenario, for this borrower.",
    ),
]


def _whatif_file(path: Path) -> tuple[int, Any]:
    """The days and the raw steps of a what-if file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"scenario: {exc}") from exc
    if not isinstance(data, dict):
        raise _fail("scenario: expected a mapping with days and steps")
    if unknown := sorted(set(data) - {"days", "steps"}):
        raise _fail(f"scenario: {unknown[0]}: unknown field; expected days and steps")
    days = data.get("days", 90)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_WHATIF_DAYS:
        raise _fail(f"days: expected a whole number of days from 1 to {MAX_WHATIF_DAYS}")
    return days, data.get("steps", [])


@app.command("whatif")
def whatif_command(
    borrower: Annotated[str, typer.Option("--borrower", help="The borrower to project.")],
    scenario: WhatIfFile,
    database: DatabaseOption = None,
) -> None:
    """Project a borrower's next days under hypothetical steps; nothing stored changes."""
    days, raw_steps = _whatif_file(scenario)
    engine = make_engine(database)
    with engine.connect() as conn:
        try:
            first = platform.business_date(conn)
            catalog = catalog_from_json(platform.catalog_json(conn))
        except platform.PlatformNotInitialisedError as exc:
            raise _fail(f"database: {exc}; run `crossline init` first") from exc
        known = conn.execute(
            sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower)
        ).first()
        if known is None:
            raise _fail(f"borrower: unknown borrower {borrower!r}")
        last = first + timedelta(days=days - 1)
        context = {"catalog": catalog, "borrower_ids": {borrower}}
        try:
            steps = whatif_steps(raw_steps, borrower, first, last, context, "scenario")
        except ScenarioError as exc:
            raise _fail(str(exc)) from exc
        projection = whatif(conn, borrower, days, list(steps))
    typer.echo(json.dumps(projection, default=str, ensure_ascii=False))


DEMO_BORROWERS = 500
DEMO_MONTHS = 12


def _simulate_into(
    out: Path, database: str | None, borrowers: int, months: int, seed: int, start: str
) -> tuple[sa.Engine, Simulation]:
    """Run the simulator into ``database`` (default: a SQLite file in ``out``) with a
    progress bar, and write ``simulation.json`` beside it."""
    first = _parse_date(start, "start")
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database or f"sqlite:///{out / SIMULATION_DB}")
    with engine.connect() as conn:
        if platform.is_initialised(conn):
            raise _fail("database: already holds a book; simulate starts from an empty one")
    days = (add_months(first, months) - first).days
    with _progress("simulating") as bar:
        task = bar.add_task(str(first), total=days)
        result = run_simulation(
            engine,
            load_catalog("default"),
            borrowers,
            months,
            seed,
            first,
            lambda day, _commands: bar.update(task, advance=1, description=str(day)),
        )
    summary = json.dumps(asdict(result), default=str, indent=2)
    (out / "simulation.json").write_text(summary + "\n", encoding="utf-8")
    return engine, result


SIMULATION_DB = "simulation.db"
BorrowersOption = Annotated[int, typer.Option(min=1, help="How many borrowers.")]
MonthsOption = Annotated[int, typer.Option(min=1, max=36, help="How many months.")]
SeedOption = Annotated[int, typer.Option(help="The same seed gives the same book.")]
StartOption = Annotated[str, typer.Option(help="First business date.")]


@app.command()
def simulate(
    borrowers: BorrowersOption = 1_000,
    months: MonthsOption = 12,
    seed: SeedOption = 7,
    start: StartOption = "2026-01-01",
    out: Annotated[Path, typer.Option(help="Folder for simulation.json.")] = Path("simulation"),
    database: DatabaseOption = None,
) -> None:
    """Simulate a population of borrowers through the engine on an empty database."""
    _engine, result = _simulate_into(out, database, borrowers, months, seed, start)
    typer.echo((out / "simulation.json").read_text(encoding="utf-8"), nl=False)
    if not result.ledger_balanced:
        raise typer.Exit(1)


def _write_report(engine: sa.Engine, path: Path) -> Report:
    with engine.connect() as conn:
        try:
            report = build_report(conn)
        except EmptyBookError as error:
            raise _fail(str(error)) from error
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.html(), encoding="utf-8")
    return report


@app.command("report")
def report_command(
    database: DatabaseOption = None,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """Write the portfolio report of a book as one self-contained HTML file."""
    engine = make_engine(database_url(database))
    with engine.connect() as conn:
        if not platform.is_initialised(conn):
            raise _fail("database: holds no book (run crossline init or simulate first)")
    report = _write_report(engine, out)
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
) -> None:
    """Simulate a population for a year on SQLite, print what happened, write report.html.

    The folder is the demo's own: a book a previous demo left there is replaced.
    """
    for suffix in ("", "-wal", "-shm"):
        (out / f"{SIMULATION_DB}{suffix}").unlink(missing_ok=True)
    engine, result = _simulate_into(out, None, borrowers, months, seed, start)
    report = _write_report(engine, out / "report.html")
    _print_figures(report, f"crossline demo: {borrowers} borrowers, {months} months", result)
    typer.echo(f"report written to {out / 'report.html'}")
    if not result.ledger_balanced:
        raise typer.Exit(1)


@app.command("examples")
def examples_command(
    examples: Annotated[Path, typer.Option(help="Folder of scenario files.")] = Path(
        "examples/scenarios"
    ),
) -> None:
    """Run every example scenario and print how each ended, as a table."""
    files = sorted(examples.glob("*.yaml"))
    if not files:
        raise _fail(f"examples: no scenario files in {examples}")
    table = Table(
        "scenario",
        "borrower",
        "product",
        "DPD",
        "bucket",
        "PBOC",
        "principal",
        "interest",
        "penalty",
        "fees",
        "refused",
        "ledger",
        title="crossline examples",
    )
    scores = Table(
        "scenario",
        "borrower",
        *GROUPS,
        "on the credit report",
        title="scores by lender group (each from its own view) and the bureau",
    )
    decided = Table(
        "scenario",
        "date",
        "borrower",
        "product",
        "decision",
        "why",
        title="applications, and what-if projections (changes on their dates)",
    )
    for path in files:
        outcome = _run_file(path, None)
        for borrower, view in outcome["final"]["borrowers"].items():
            scores.add_row(path.stem, borrower, *_scores_and_report(view))
        for row in _decisions(outcome["events"]):
            decided.add_row(path.stem, *row)
        refused = sum(1 for e in outcome["events"] if e.get("ok") is False)
        balanced = "balanced" if outcome["ledger"]["balanced"] else "UNBALANCED"
        for borrower, view in outcome["final"]["borrowers"].items():
            for product, line in view["lines"].items():
                owed = line["outstanding"]
                table.add_row(
                    path.stem,
                    borrower,
                    product,
                    str(line["dpd"]),
                    line["bucket"],
                    line["pboc_status"],
                    owed["principal"],
                    owed["interest"],
                    owed["penalty"],
                    owed["fees"],
                    str(refused),
                    balanced,
                )
    console = Console(width=160)
    console.print(table)
    console.print(scores)
    console.print(decided)


GROUPS = ("ant", "webank", "lexin")


def _application(event: dict[str, Any], prefix: str) -> tuple[str, str, str, str, str]:
    offer = f" {event['limit']}" if event.get("limit") else ""
    why = event["reasons"][0]["text"] if event.get("reasons") else event.get("reason", "")
    decision = prefix + event.get("status", "refused") + offer
    return event["date"], event["borrower"], event["product"], decision, why


def _decisions(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """(date, borrower, product, decision, why) of every application, and of every line
    change and negative report a what-if projects."""
    rows = []
    for event in events:
        if event["type"] == "apply" and event.get("ok"):
            rows.append(_application(event, ""))
        if event["type"] != "whatif":
            continue
        rows += [_application(s, "what-if: ") for s in event["steps"] if s["type"] == "apply"]
        for change in event["changes"]:
            if change["what"] == "line":
                decision = f"what-if: {change['status']} {change['limit']}"
                why = change.get("reason", "")
            elif change["what"] == "reported" and change["status"] not in ("N", "C"):
                decision = f"what-if: {change['month']} reported {change['status']}"
                why = "now seen by every lender through the bureau"
            else:
                continue
            rows.append((change["date"], event["borrower"], change["product"], decision, why))
    return sorted(rows, key=lambda row: row[0])


def _scores_and_report(view: dict[str, Any]) -> list[str]:
    """Each group's score and band, then the late months the bureau still shows."""
    cells = []
    for group in GROUPS:
        score = view.get("scores", {}).get(group)
        cells.append("-" if score is None else f"{score['score']} {score['band']}")
    late = [
        f"{r['product']} {r['month']}: {r['status']}"
        for r in view.get("bureau", [])
        if r["visible"] and r["status"] not in ("N", "C")
    ]
    cells.append(", ".join(late) or "no late payment shown")
    return cells


@contextmanager
def _transaction(database: str | None) -> Iterator[sa.Connection]:
    """One transaction on an initialised database: a failure inside rolls it all back."""
    engine = make_engine(database)
    try:
        with engine.begin() as conn:
            yield conn
    except platform.PlatformNotInitialisedError as exc:
        raise _fail(f"database: {exc}; run `crossline init` first") from exc
    finally:
        engine.dispose()


@contextmanager
def _catalog_in_force(database: str | None) -> Iterator[sa.Connection]:
    """The database a policy is checked against: the one given, or a throwaway SQLite
    database initialised with the default catalog (as ``scenario run`` uses one), so that
    a file is checked by the same code whether or not the analyst has a database."""
    if database is not None:
        with _transaction(database) as conn:
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


def _read_policy(file: Path) -> str:
    """The file's text, or exit 2: a missing or non-UTF-8 file is bad input, not a crash."""
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(escape(f"file: {exc}")) from exc


def _checked(conn: sa.Connection, text: str) -> Bundle:
    """The policy checked, or exit 2 naming the decision, node, row and column at fault."""
    try:
        return check_policy(conn, text)
    except PolicyError as exc:
        raise _fail(escape(str(exc))) from exc


@policy_app.command("validate")
def policy_validate(
    file: Annotated[Path, typer.Argument(help="A crossline-policy/1 JSON file.")],
    database: CheckDatabaseOption = None,
) -> None:
    """Check a policy file against the decision contracts and the catalog; list its tables."""
    text = _read_policy(file)
    with _catalog_in_force(database) as conn:
        bundle = _checked(conn, text)
    typer.echo(f"ok {bundle.group} {bundle.version}")
    for decision, graph in bundle.graphs.items():
        for table in graph.tables:
            typer.echo(f"  {table_title(decision, table)}: {len(table.rules)} rows")


@policy_app.command("show")
def policy_show(
    file: Annotated[Path | None, typer.Argument(help="A crossline-policy/1 JSON file.")] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="Show a lender group's champion instead: the one in force in --database, "
            "or without --database the shipped default."
        ),
    ] = None,
    database: CheckDatabaseOption = None,
) -> None:
    """Print a policy's decision tables row by row, its reason and document texts and its
    price tiers."""
    notes = []
    if file is not None and group is None:
        text = _read_policy(file)
        with _catalog_in_force(database) as conn:
            bundle = _checked(conn, text)
    elif group is not None and file is None and database is None:
        try:
            text = default_policy_text(group)
        except RefusedError as exc:
            raise _fail(escape(f"group: {exc.message}")) from exc
        with _catalog_in_force(None) as conn:
            bundle = _checked(conn, text)
        notes.append(f"the shipped default policy of {group}")
    elif group is not None and file is None:
        with _transaction(database) as conn:
            try:
                arms = policies_in_force(conn, group, platform.catalog_json(conn))
            except RefusedError as exc:
                raise _fail(escape(f"group: {exc.message}")) from exc
            except PolicyError as exc:
                raise _fail(escape(f"stored policy of {group}: {exc}")) from exc
        bundle = arms.champion
        notes.append(f"the champion of {group} in force")
        if arms.challenger is not None:
            notes.append(
                f"challenger {arms.challenger.version} decides for {arms.share}% of borrowers"
            )
    else:
        raise _fail("file: give either a policy FILE or --group GROUP")
    console = Console()
    for note in notes:
        console.print(Text(note, style="italic"))
    console.print(render_policy(bundle))


@policy_app.command("upload")
def policy_upload(
    file: Annotated[Path, typer.Argument(help="A crossline-policy/1 JSON file.")],
    database: DatabaseOption = None,
) -> None:
    """Check a policy file and store it as a draft of its group (JSON)."""
    text = _read_policy(file)
    with _transaction(database) as conn:
        try:
            bundle = upload_policy(conn, text, platform.business_date(conn))
        except PolicyError as exc:
            raise _fail(escape(str(exc))) from exc
        except RefusedError as exc:
            raise _fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
        # The same file uploaded again is the stored version, which may be active by now.
        p = policies.c
        role = conn.execute(
            sa.select(p.role).where(p.lender_group == bundle.group, p.version == bundle.version)
        ).scalar_one()
    typer.echo(
        json.dumps(
            {
                "group": bundle.group,
                "version": bundle.version,
                "digest": bundle.digest,
                "role": role,
            }
        )
    )


@policy_app.command("activate")
def policy_activate(
    group: Annotated[str, typer.Argument(help="Lender group, e.g. ant.")],
    version: Annotated[str, typer.Argument(help="An uploaded version of the group's policy.")],
    database: DatabaseOption = None,
    challenger_share: Annotated[
        int | None,
        typer.Option(
            "--challenger-share",
            min=1,
            max=99,
            help="Make it the challenger for this per cent of borrowers (default: champion).",
        ),
    ] = None,
) -> None:
    """Make an uploaded version the group's champion, or its challenger for a share (JSON)."""
    with _transaction(database) as conn:
        try:
            activate_policy(conn, group, version, platform.business_date(conn), challenger_share)
        except RefusedError as exc:
            raise _fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
    role = "champion" if challenger_share is None else "challenger"
    typer.echo(
        json.dumps({"group": group, "version": version, "role": role, "share": challenger_share})
    )


@policy_app.command("backtest")
def policy_backtest(
    policy: Annotated[
        Path, typer.Option("--policy", help="The candidate: a crossline-policy/1 JSON file.")
    ],
    start: Annotated[
        str, typer.Option("--from", help="First business date of the decisions, e.g. 2026-03-01.")
    ],
    end: Annotated[str, typer.Option("--to", help="Last business date of the decisions.")],
    database: DatabaseOption = None,
) -> None:
    """Replay the candidate's group's stored applications through it; print, for each
    stored version and for the candidate, approval and referral rates, approved limits and
    the later bad rate of the approved, and how many decisions change outcome (JSON)."""
    first = _parse_date(start, "from")
    last = _parse_date(end, "to")
    try:
        text = policy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(escape(f"policy: {exc}")) from exc
    with _transaction(database) as conn:
        try:
            result = backtest(conn, text, first, last)
        except PolicyError as exc:
            raise _fail(escape(f"policy: {exc}")) from exc
        except InputError as exc:
            raise _fail(escape(exc.message)) from exc
        except RefusedError as exc:
            raise _fail(escape(f"{exc.code}: {exc.message}"), 1) from exc
    typer.echo(json.dumps(result.as_dict()))


def main() -> None:
    """Entry point for ``python -m crossline``."""
    app()


if __name__ == "__main__":
    main()
