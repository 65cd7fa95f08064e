"""Every short cut the engine takes over its own stored results, taken together, gives
the book of taking none: a simulated book run both ways has the same tables, row for
row.

The short cuts, each with its reasoning in its module:

* the close recomputes only the stale scores (``eod.rescoring``);
* the close reviews only the borrowers whose lines' inputs moved (``eod.reviewing``);
* the close recomputes only the early warnings that can have moved
  (``eod.early_warnings``);
* a decision serves a group's stored view despite other groups' pending events
  (``decisions.inputs``).

The reference takes none of them: it scores, reviews and warns everyone at every
close and rebuilds a view whenever the borrower has any pending event. It is
computed once, on SQLite, and each backend's run with the short cuts is compared
with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.catalog import Catalog, load_catalog
from crossline.decisions import applications, inputs
from crossline.eod import early_warnings, rescoring, reviewing, runner
from crossline.scoring.service import rescore
from crossline.servicing.early_warning import shard_scope, store_warnings
from crossline.sim.run import simulate
from crossline.store.engine import make_engine
from crossline.store.schema import current_scores, decisions, outbox
from tests.helpers import dump

pytestmark = pytest.mark.xdist_group("close_shortcuts")

START = date(2026, 1, 15)
"""Forty borrowers for two months from mid-January (seed 4): applications and purchases
from the first days (several a day for some borrowers, in more than one group), first
bills due in February and late payers accruing daily, anniversaries, two month-end
reports, and nightly reviews acting in mid-month."""
BORROWERS, MONTHS, SEED = 40, 2, 4


def _score_everyone(
    conn: sa.Connection,
    catalog: Catalog,
    day: date,
    lo: int,
    hi: int,
    touched: pl.Series,
    reviewed: pl.Series | None,
) -> pl.DataFrame:
    tomorrow = day + timedelta(days=1)
    snapshot = day if tomorrow.day == 1 else None
    return rescore(conn, tomorrow, "eod", shards=(lo, hi), snapshot=snapshot)


def _review_everyone(
    conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series
) -> pl.Series | None:
    return None


def _warn_everyone(conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series) -> int:
    return store_warnings(conn, day, shard_scope(lo, hi))


_ANY_PENDING = inputs.STORED.with_only_columns(
    *list(inputs.STORED.selected_columns)[:-1],
    sa.exists()
    .where(outbox.c.borrower_id == current_scores.c.borrower_id, outbox.c.handled.is_(False))
    .label("pending"),
)
"""A decision's stored-view read that counts any unhandled event of the borrower as
pending, whatever its group."""


class _Counts:
    """What each short cut chose, night by night and view by view."""

    def __init__(self) -> None:
        self.stale: list[tuple[int, int]] = []
        self.reviewed: list[int | None] = []
        self.warned = 0
        self.closes = 0
        self.rebuilt = 0


def _counted(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    counts = _Counts()
    stale_of, to_review, close, store, rebuild = (
        rescoring._stale,
        reviewing.to_review,
        runner.close_warnings,
        early_warnings.store_warnings,
        inputs.rebuilt_view,
    )

    def stale(*args: Any) -> pl.Series:
        chosen = stale_of(*args)
        counts.stale.append((chosen.len(), args[6].len()))
        return chosen

    def review(*args: Any) -> pl.Series | None:
        chosen = to_review(*args)
        counts.reviewed.append(None if chosen is None else chosen.len())
        return chosen

    def closed(*args: Any) -> int:
        counts.closes += 1
        return close(*args)

    def warn(*args: Any) -> int:
        counts.warned += 1
        return store(*args)

    def rebuilt(*args: Any) -> inputs.View:
        counts.rebuilt += 1
        return rebuild(*args)

    monkeypatch.setattr(rescoring, "_stale", stale)
    monkeypatch.setattr(runner, "to_review", review)
    monkeypatch.setattr(runner, "close_warnings", closed)
    monkeypatch.setattr(early_warnings, "store_warnings", warn)
    monkeypatch.setattr(inputs, "rebuilt_view", rebuilt)
    return counts


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], int]]:
    """The book without short cuts, and how many views its decisions rebuilt."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('reference') / 'book.db'}")
    with pytest.MonkeyPatch.context() as monkeypatch:
        counts = _counted(monkeypatch)
        monkeypatch.setattr(runner, "close_scores", _score_everyone)
        monkeypatch.setattr(runner, "to_review", _review_everyone)
        monkeypatch.setattr(runner, "close_warnings", _warn_everyone)
        monkeypatch.setattr(inputs, "STORED", _ANY_PENDING)
        before_applying = applications._before_applying(_ANY_PENDING)
        monkeypatch.setattr(applications, "_BEFORE_APPLYING", before_applying)
        before_deciding = applications._before_deciding(_ANY_PENDING)
        monkeypatch.setattr(applications, "_BEFORE_DECIDING", before_deciding)
        simulate(engine, load_catalog("default"), BORROWERS, MONTHS, seed=SEED, start=START)
    yield dump(engine), counts.rebuilt
    engine.dispose()


def test_the_short_cuts_give_the_book_of_taking_none(
    engine: sa.Engine,
    reference: tuple[dict[str, Any], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    book, rebuilt_without = reference
    counts = _counted(monkeypatch)
    simulate(engine, load_catalog("default"), BORROWERS, MONTHS, seed=SEED, start=START)
    assert dump(engine) == book
    # The book matters: each short cut was taken on some nights and not on others.
    assert any(stale == 0 for stale, _ in counts.stale)
    assert any(0 < stale < everyone for stale, everyone in counts.stale)
    assert None in counts.reviewed  # a close that starts a month reviews everyone
    assert 0 in counts.reviewed
    assert any(chosen for chosen in counts.reviewed)
    assert 0 < counts.warned < counts.closes
    # Some commands were served their group's view where the reference rebuilt it.
    assert counts.rebuilt < rebuilt_without
    # The nightly review acted in mid-month, when its short cut is taken (a close that
    # starts a month reviews everyone; its decisions are dated the 1st).
    with engine.connect() as conn:
        nightly = conn.execute(
            sa.select(decisions.c.business_date, decisions.c.inputs).where(
                decisions.c.kind == "review"
            )
        ).all()
    assert any(day.day != 1 and '"nightly"' in text for day, text in nightly)
