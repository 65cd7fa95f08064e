"""The close recomputes only stale scores, and the book comes out exactly as if it scored
everyone: a simulated book run both ways has the same tables, row for row."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.catalog import Catalog, load_catalog
from crossline.eod import rescoring
from crossline.scoring.service import rescore
from crossline.sim.run import simulate
from crossline.store.engine import make_engine
from crossline.store.schema import credit_lines, current_scores
from tests.helpers import dump, run_yaml

START = date(2026, 1, 15)
"""Two months from mid-January hold everything a view moves with: first bills due on
10 February, late payers accruing daily, anniversaries, and two month-end reports."""


def _score_everyone(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int, touched: pl.Series
) -> pl.DataFrame:
    """The reference: every borrower of the partition recomputed at every close."""
    tomorrow = date.fromordinal(day.toordinal() + 1)
    snapshot = day if tomorrow.day == 1 else None
    return rescore(conn, tomorrow, "eod", shards=(lo, hi), snapshot=snapshot)


def test_scoring_only_stale_borrowers_gives_the_book_of_scoring_everyone(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog("default")
    sizes: list[tuple[int, int]] = []
    stale_of = rescoring._stale

    def counted(*args: Any) -> pl.Series:
        stale = stale_of(*args)
        sizes.append((stale.len(), args[6].len()))
        return stale

    monkeypatch.setattr(rescoring, "_stale", counted)
    simulate(engine, catalog, 30, 2, seed=11, start=START)
    monkeypatch.setattr("crossline.eod.runner.close_scores", _score_everyone)
    reference = make_engine(f"sqlite:///{tmp_path / 'everyone.db'}")
    simulate(reference, catalog, 30, 2, seed=11, start=START)
    assert dump(engine) == dump(reference)
    reference.dispose()
    # The short cut was taken: nights that served everyone from the stored rows, and
    # nights that recomputed a few (late payers accruing, bills falling due).
    assert any(stale == 0 for stale, _ in sizes)
    assert any(0 < stale < everyone for stale, everyone in sizes)


def test_a_line_opened_without_other_activity_is_in_the_next_stored_view(
    engine: sa.Engine,
) -> None:
    """Opening a line emits no event; the close must still count it in the group's view."""
    run_yaml(
        engine,
        """
start: 2026-03-03
catalog: default
borrowers:
  - {id: ning, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, open_line: {borrower: ning, product: huabei, limit: "5000.00"}}
  - date: 2026-03-10
    open_line: {borrower: ning, product: jiebei, limit: "9000.00", daily_rate: "0.0004"}
end: 2026-03-10
""",
    )
    s = current_scores.c
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(s.features).where(s.borrower_id == "ning", s.lender_group == "ant")
        ).scalar_one()
        lines = conn.execute(
            sa.select(sa.func.count()).where(
                credit_lines.c.borrower_id == "ning", credit_lines.c.lender_group == "ant"
            )
        ).scalar_one()
    assert lines == 2
    assert json.loads(stored)["lines_count"] == lines
