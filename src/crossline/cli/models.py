"""Scorecard models: training on any CSV, on the book or on synthetic history, and
monitoring a model on the book it scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from crossline.cli.common import (
    DatabaseOption,
    existing_database,
    fail,
    model_app,
)
from crossline.scoring.book import matured_snapshots
from crossline.scoring.monitor import monitor
from crossline.scoring.scorecard import Scorecard, ScorecardError, default_scorecard
from crossline.scoring.synthetic import DEFAULT_ROWS, REASONS, TARGET, synthetic_history


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
        raise fail("give one of --data CSV (with --target), --synthetic or --from-book")
    if data is None and (target is not None or bad is not None):
        raise fail("--target and --bad apply to --data; the other sources' target is fixed")
    if (group is not None or database is not None) and not from_book:
        raise fail("--group and --database apply to --from-book")
    if data is not None and rows is not None:
        raise fail("--rows applies to --synthetic; --data trains on every row of the file")
    if data is not None and target is None:
        raise fail("--target: required with --data")
    if out.exists() and not out.is_dir():
        raise fail(f"out: {out} exists and is not a folder")
    default_name = "book-1" if from_book else "default-1" if data is None else f"{data.stem}-1"
    name = version if version is not None else default_name
    if not name.strip():
        raise fail("version: expected a non-empty text")
    try:
        from crossline.scoring import train
    except ImportError as exc:
        raise fail(
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
        raise fail(escape(str(exc))) from exc
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scorecard.json"
    path.write_text(result.card.to_json(), encoding="utf-8")
    typer.echo(json.dumps({**result.metrics, "version": name, "scorecard": str(path)}))


def _book_history(database: str | None, group: str | None) -> Any:
    """The matured month-end snapshots as a training table of the scorecard's features."""
    with existing_database(database).connect() as conn:
        matured = matured_snapshots(conn, group)
    if matured.is_empty():
        raise fail(
            "from-book: no month-end snapshot has 12 months of outcomes yet; "
            "run the book (or a simulation) for at least 13 months first"
        )
    return matured.select(*REASONS, TARGET).to_pandas()


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
        raise fail(escape(str(exc))) from exc
    with existing_database(database).connect() as conn:
        typer.echo(json.dumps(monitor(conn, card, group)))
