"""The close reviews the borrowers whose lines' inputs can have moved (``eod.reviewing``);
that the book comes out exactly as if it reviewed every line is
``test_close_shortcuts``'s."""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.catalog import load_catalog
from crossline.eod import reviewing
from crossline.sim.run import simulate
from crossline.store.schema import SHARDS, credit_lines, current_scores, policies

START = date(2026, 1, 1)
"""Eight borrowers through January (seed 11); the test moves one input at a time before
a mid-month close after the book's last change."""


def _chosen(conn: sa.Connection, day: date, scored: pl.DataFrame) -> set[str]:
    """The borrowers ``to_review`` names, every scored one when it names everyone."""
    chosen = reviewing.to_review(conn, day, 0, SHARDS, pl.Series([], dtype=pl.String))
    return set((scored["borrower_id"] if chosen is None else chosen).to_list())


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
