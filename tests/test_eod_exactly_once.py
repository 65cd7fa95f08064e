"""End-of-day is exactly-once per date: a crash anywhere and a rerun give the same journal.

Faults are injected at each write of a partition's close and between
partitions; a real SIGKILL of a ``crossline eod`` process is tested too.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from crossline.eod import runner
from crossline.eod.runner import run_eod
from crossline.servicing.context import open_context
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.store.engine import make_engine, upgrade
from crossline.store.schema import eod_partitions
from tests.conftest import initialise
from tests.helpers import dump, journal_rows

START = date(2026, 1, 15)
THROUGH = date(2026, 2, 24)
"""Past a month-end report and the first dues, nine days into the unpaid ones' penalty."""


def _book(engine: sa.Engine, borrowers: int = 12, partitions: int = 4) -> None:
    """Borrowers over several shards, some of whom never pay (so penalty accrues)."""
    initialise(engine, START, partitions=partitions)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for n in range(borrowers):
            who = f"b{n}"
            register_borrower(ctx, who, 800000)
            open_line(ctx, who, "weilidai", 3000000)
            draw(ctx, who, "weilidai", 100000 + 1000 * n, 5, "equal_principal")


Reference = Callable[[int, int], sa.Engine]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """A SQLite book after an uninterrupted run of ``_book(borrowers, partitions)``,
    built once per size for the whole session: every crash test compares with it, read
    only. Under xdist the workers share one file (the first to ask builds it, the other
    waits for it) rather than each spending 10-20 s on the same run."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") is not None:
        shared = shared.parent  # the session's directory, above each worker's own
    engines: dict[tuple[int, int], sa.Engine] = {}

    def book(borrowers: int, partitions: int) -> sa.Engine:
        if (borrowers, partitions) not in engines:
            path = shared / f"eod-reference-{borrowers}-{partitions}.db"
            done = path.with_suffix(".done")
            with open(path.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not done.exists():
                    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                        leftover.unlink(missing_ok=True)  # of a build cut short
                    engine = make_engine(f"sqlite:///{path}")
                    upgrade(engine)
                    _book(engine, borrowers, partitions)
                    run_eod(engine, THROUGH)
                    engine.dispose()
                    done.touch()
            engines[(borrowers, partitions)] = make_engine(f"sqlite:///{path}")
        return engines[(borrowers, partitions)]

    yield book
    for engine in engines.values():
        engine.dispose()


class InjectedCrashError(RuntimeError):
    """The injected fault."""


@pytest.mark.parametrize("target", ["post_pairs", "update_frame", "write_events", "insert"])
def test_crash_inside_a_partition_and_rerun(
    engine: sa.Engine, reference: Reference, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    expected = journal_rows(reference(12, 4))
    assert expected, "the reference run must post something"

    _book(engine)
    calls = {"n": 0}
    original = getattr(runner, target) if target != "insert" else None

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 37:
            raise InjectedCrashError(target)
        assert original is not None
        return original(*args, **kwargs)

    if target == "insert":
        monkeypatch.setattr(runner, "close_partition", _crash_after_close(runner.close_partition))
    else:
        monkeypatch.setattr(runner, target, failing)
    with pytest.raises(InjectedCrashError):
        run_eod(engine, THROUGH)
    monkeypatch.undo()
    run_eod(engine, THROUGH)
    assert journal_rows(engine) == expected
    assert _without_ids(dump(engine)) == _without_ids(dump(reference(12, 4)))


def _crash_after_close(close: object) -> object:
    """InjectedCrashError after a partition's work but before its completion row is written."""
    count = {"n": 0}

    def wrapped(*args: object, **kwargs: object) -> object:
        result = close(*args, **kwargs)  # type: ignore[operator]
        count["n"] += 1
        if count["n"] == 50:
            raise InjectedCrashError("after close")
        return result

    return wrapped


def _without_ids(tables: dict[str, list[tuple[object, ...]]]) -> dict[str, object]:
    """Database content apart from autoincrement row ids (PostgreSQL sequences skip on crash)."""
    return {
        name: rows
        for name, rows in tables.items()
        if name not in {"credit_lines", "loans", "installments", "alembic_version"}
    }


def test_crash_between_partitions_resumes_without_repeating(
    engine: sa.Engine, reference: Reference
) -> None:
    _book(engine)
    done: list[int] = []

    def stop_after_two(day: date, finished: int, total: int) -> None:
        done.append(finished)
        if day == date(2026, 2, 16) and finished == 2:
            raise InjectedCrashError("between partitions")

    with pytest.raises(InjectedCrashError):
        run_eod(engine, THROUGH, stop_after_two)
    with engine.connect() as conn:
        closed = conn.execute(
            sa.select(sa.func.count())
            .select_from(eod_partitions)
            .where(eod_partitions.c.business_date == date(2026, 2, 16))
        ).scalar_one()
    assert closed == 2
    run_eod(engine, THROUGH)
    assert journal_rows(engine) == journal_rows(reference(12, 4))


def test_sigkill_during_eod_then_rerun(
    engine: sa.Engine, database_url: str, reference: Reference
) -> None:
    _book(engine, borrowers=16, partitions=4)
    command = [
        sys.executable,
        "-m",
        "crossline",
        "eod",
        "--through",
        THROUGH.isoformat(),
        "--database",
        database_url,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect() as conn:
            progressed = conn.execute(
                sa.select(sa.func.count()).select_from(eod_partitions)
            ).scalar_one()
        if progressed >= 4 * 14 + 2:  # mid-way through a day, before the month-end
            os.kill(process.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.01)
    process.wait()
    assert killed, "the run finished before it could be killed; lower the kill point"
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert journal_rows(engine) == journal_rows(reference(16, 4))
