"""Shared test helpers: independent arithmetic and whole-database snapshots."""

from __future__ import annotations

import copy
import sqlite3
import tempfile
from contextlib import closing
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from crossline.scenario.runner import run_scenario
from crossline.scenario.spec import parse_scenario
from crossline.store.schema import metadata, platform

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "scenarios"


def yuan(value: Decimal | str) -> str:
    """Half-up to the fen, as the STATE strings show money (computed without crossline)."""
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: equal dumps mean an unchanged database."""
    result = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            result[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return result


def journal_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """The journal in entry order, every column."""
    table = metadata.tables["journal"]
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.select(table).order_by(table.c.entry_id, table.c.line_no))
        ]


def run_yaml(engine: sa.Engine, text: str) -> dict[str, Any]:
    """Run a scenario given as YAML text on ``engine``."""
    return run_scenario(parse_scenario(yaml.safe_load(text)), engine)


def line_of(state: dict[str, Any], borrower: str, product: str) -> dict[str, Any]:
    """One line's STATE."""
    line: dict[str, Any] = state["borrowers"][borrower]["lines"][product]
    return line


_examples: dict[str, tuple[str, Path, dict[str, Any]]] = {}
"""Examples already run on SQLite in this process: the file's text, a copy of the
database the run left, and the outcome."""
_examples_dir: tempfile.TemporaryDirectory[str] | None = None


def _copy_sqlite(source: str, target: str) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def run_example(engine: sa.Engine, name: str) -> dict[str, Any]:
    """Run ``examples/scenarios/<name>.yaml`` on the fresh database ``engine``.

    Several tests check the book of the same example. On SQLite the first run in the
    process is kept, and a later test gets a page-for-page copy of the database it left
    and a copy of its outcome: the same book, without its 100-300 closes again.
    PostgreSQL runs the example every time.
    """
    global _examples_dir
    with engine.connect() as conn:
        used = conn.execute(sa.select(sa.func.count()).select_from(platform)).scalar_one()
    assert used == 0, "run_example wants a fresh database"
    text = (EXAMPLES / f"{name}.yaml").read_text()
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        return run_yaml(engine, text)
    if name in _examples and _examples[name][0] == text:
        _, path, outcome = _examples[name]
        engine.dispose()
        _copy_sqlite(str(path), database)
        return copy.deepcopy(outcome)
    outcome = run_yaml(engine, text)
    if _examples_dir is None:
        _examples_dir = tempfile.TemporaryDirectory(prefix="crossline-examples-")
    path = Path(_examples_dir.name) / f"{name}.db"
    path.unlink(missing_ok=True)
    _copy_sqlite(database, str(path))
    _examples[name] = (text, path, copy.deepcopy(outcome))
    return outcome
