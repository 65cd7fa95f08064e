"""Scenario files, what-if projections and the example scenarios' summary tables."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from crossline.cli.common import (
    DatabaseOption,
    app,
    existing_book,
    fail,
    scenario_app,
)
from crossline.scenario.runner import run_scenario, whatif_request
from crossline.scenario.spec import (
    ScenarioError,
    load_scenario,
)
from crossline.store.engine import make_engine


def run_file(path: Path, database: str | None) -> dict[str, Any]:
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise fail(str(exc)) from exc
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
    outcome = run_file(file, database)
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


def _whatif_file(path: Path, borrower: str) -> dict[str, Any]:
    """A what-if file's projection (days and steps) for ``borrower``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"scenario: {exc}") from exc
    if not isinstance(data, dict):
        raise fail("scenario: expected a mapping with days and steps")
    if "borrower" in data:
        raise fail("scenario: borrower: given by --borrower, not in the file")
    return {"borrower": borrower, **data}


@app.command("whatif")
def whatif_command(
    borrower: Annotated[str, typer.Option("--borrower", help="The borrower to project.")],
    scenario: WhatIfFile,
    database: DatabaseOption = None,
) -> None:
    """Project a borrower's next days under hypothetical steps; nothing stored changes."""
    raw = _whatif_file(scenario, borrower)
    with existing_book(database).connect() as conn:
        try:
            projection = whatif_request(conn, raw, "scenario")
        except ScenarioError as exc:
            raise fail(str(exc)) from exc
    typer.echo(json.dumps(projection, default=str, ensure_ascii=False))


@app.command("examples")
def examples_command(
    examples: Annotated[Path, typer.Option(help="Folder of scenario files.")] = Path(
        "examples/scenarios"
    ),
) -> None:
    """Run every example scenario and print how each ended, as a table."""
    files = sorted(examples.glob("*.yaml"))
    if not files:
        raise fail(f"examples: no scenario files in {examples}")
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
        outcome = run_file(path, None)
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
