"""``store.checkpoints.Checkpointer`` writes SQLite's log back from its own thread, so
that the next commit starts the log afresh instead of growing it, and does nothing on
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.store.checkpoints import Checkpointer
from crossline.store.engine import is_sqlite, make_engine

COMMITS = 200
ROW = "x" * 2000
"""About half a page: each commit adds a frame or two to the log."""


def _no_automatic_checkpoints(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _commit_rows(engine: sa.Engine) -> None:
    for _ in range(COMMITS):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t (body) VALUES (?)", (ROW,))


def _wait_for_round(checkpointer: Checkpointer, after: int) -> None:
    deadline = time.monotonic() + 10
    while checkpointer.rounds <= after:
        assert time.monotonic() < deadline, "the checkpointer made no round in 10 s"
        time.sleep(0.005)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[tuple[sa.Engine, Path]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'log.db'}")
    sa.event.listen(engine, "connect", _no_automatic_checkpoints)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    yield engine, tmp_path / "log.db-wal"
    engine.dispose()


def test_without_checkpoints_the_log_grows_with_every_commit(
    sqlite_engine: tuple[sa.Engine, Path],
) -> None:
    engine, log = sqlite_engine
    _commit_rows(engine)
    first = log.stat().st_size
    _commit_rows(engine)
    assert log.stat().st_size > first * 1.8


def test_a_checkpointer_lets_the_next_commits_reuse_the_log(
    sqlite_engine: tuple[sa.Engine, Path],
) -> None:
    engine, log = sqlite_engine
    _commit_rows(engine)
    first = log.stat().st_size
    with Checkpointer(engine, interval=0.01) as checkpointer:
        _wait_for_round(checkpointer, checkpointer.rounds)
        _commit_rows(engine)
    assert log.stat().st_size <= first
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2 * COMMITS


def test_a_checkpointer_does_nothing_on_postgresql(engine: sa.Engine) -> None:
    with Checkpointer(engine, interval=0.01) as checkpointer:
        time.sleep(0.1)
    assert (checkpointer.rounds > 0) == is_sqlite(engine)
