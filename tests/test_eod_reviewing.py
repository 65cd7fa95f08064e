"""The close reviews only the borrowers whose lines' inputs can have moved, and the book
comes out exactly as if it reviewed every line: a simulated book run both ways has the
same tables, row for row."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.catalog import load_catalog
from crossline.eod import reviewing
from crossline.sim.run import simulate
from crossline.store.engine import make_engine
from crossline.store.schema import SHARDS, credit_lines, current_scores, decisions, policies
from tests.helpers import dump

START = date(2026, 1, 1)
"""Forty borrowers for two months from 1 January (seed 11): first bills due in February,
and two lines the nightly review pauses on 15 February, in the middle of a month."""


def _review_everyone(
    conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series, scored: pl.DataFrame
) -> pl.DataFrame:
    """The reference: every line of the partition reviewed at every close."""
    return scored


def test_reviewing_only_moved_borrowers_gives_the_book_of_reviewing_everyone(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog("default")
    sizes: list[tuple[int, int]] = []
    to_review = reviewing.to_review

    def counted(*args: Any) -> pl.DataFrame:
        chosen = to_review(*args)
        sizes.append((chosen.height, args[-1].height))
        return chosen

    monkeypatch.setattr("crossline.eod.runner.to_review", counted)
    simulate(engine, catalog, 40, 2, seed=11, start=START)
    monkeypatch.setattr("crossline.eod.runner.to_review", _review_everyone)
    reference = make_engine(f"sqlite:///{tmp_path / 'everyone.db'}")
    simulate(reference, catalog, 40, 2, seed=11, start=START)
    assert dump(engine) == dump(reference)
    reference.dispose()
    # The book matters: the nightly review acted in mid-month, when the short cut is
    # taken; nights reviewed nobody, and nights a few of the partition's borrowers.
    with engine.connect() as conn:
        acted = conn.execute(
            sa.select(decisions.c.business_date).where(decisions.c.kind == "review")
        ).scalars()
        assert date(2026, 2, 15) in set(acted)
    assert any(chosen == 0 for chosen, _ in sizes)
    assert any(0 < chosen < everyone for chosen, everyone in sizes)


def _chosen(conn: sa.Connection, day: date, scored: pl.DataFrame) -> set[str]:
    chosen = reviewing.to_review(conn, day, 0, SHARDS, pl.Series([], dtype=pl.String), scored)
    return set(chosen["borrower_id"].to_list())


def test_each_input_that_moves_puts_its_borrower_under_review(engine: sa.Engine) -> None:
    simulate(engine, load_catalog("default"), 8, 1, seed=11, start=START)
    day = date(2026, 2, 10)  # a mid-month close after the book's last change
    s, c = current_scores.c, credit_lines.c
    with engine.begin() as conn:
        scored = pl.DataFrame(
            conn.execute(sa.select(s.borrower_id, s.lender_group)).all(),
            schema=["borrower_id", "lender_group"],
            orient="row",
        )
        borrower = scored["borrower_id"].min()
        line = conn.execute(sa.select(c.credit_line_id).where(c.borrower_id == borrower)).scalar()
        assert _chosen(conn, day, scored) == set()
        moves = [
            (current_scores, s.borrower_id == borrower, {"business_date": day}),
            (credit_lines, c.credit_line_id == line, {"opened_on": day}),
            (credit_lines, c.credit_line_id == line, {"managed_on": day}),
            (credit_lines, c.credit_line_id == line, {"cured_on": day}),
        ]
        for table, where, values in moves:
            nested = conn.begin_nested()
            conn.execute(sa.update(table).where(where).values(**values))
            assert _chosen(conn, day, scored) == {borrower}, values
            nested.rollback()
        everyone = set(scored["borrower_id"].to_list())
        assert _chosen(conn, date(2026, 2, 28), scored) == everyone  # 1 March starts a month
        conn.execute(
            sa.insert(policies).values(
                lender_group="ant",
                version="v",
                document="{}",
                digest="d",
                role="champion",
                uploaded_on=day,
                activated_on=day,
            )
        )
        assert _chosen(conn, day, scored) == everyone
