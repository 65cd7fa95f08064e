"""Shared test helpers: independent arithmetic and whole-database snapshots."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from crossline.scenario.runner import run_scenario
from crossline.scenario.spec import parse_scenario
from crossline.store.schema import metadata

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
