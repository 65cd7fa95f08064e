"""SQLite's log written back to the database file off the request path.

In WAL mode a commit only appends to the log. The commit that takes the log past
``wal_autocheckpoint`` pages (1,000) then writes the log back into the database
file and syncs it, inside that request: one application in about 43 waited some
14 ms for it (2026-11-25), which made the p99. A process that keeps serving
commands runs a :class:`Checkpointer` beside them: a thread with its own
connection that checkpoints every ``interval`` seconds, often enough that the
log never reaches the threshold on a request. The checkpoint is PASSIVE: it
copies what no reader still needs and neither waits for nor blocks readers and
the writer. The sqlite3 module lets go of the GIL while SQLite works, so the
sync overlaps the requests. Request connections keep the automatic checkpoint as
a backstop, for a thread that falls behind or a command run on its own.
PostgreSQL has its own background writer: there the checkpointer does nothing.
"""

from __future__ import annotations

import threading
from types import TracebackType

import sqlalchemy as sa

from crossline.store.engine import is_sqlite

INTERVAL_SECONDS = 0.025
"""At 500 applications a second (about 23 log pages each) the log grows by 1,000
pages in under 0.09 s; a checkpoint every 0.025 s, plus its own sync, stays well
inside that. A checkpoint with nothing to copy costs SQLite about 6 µs (timeit)."""


class Checkpointer:
    """Checkpoint ``engine``'s SQLite database every ``interval`` seconds while in use
    (``with Checkpointer(engine): ...``), and once more on leaving; ``rounds``: the
    checkpoints made so far."""

    def __init__(self, engine: sa.Engine, interval: float = INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def __enter__(self) -> Checkpointer:
        if is_sqlite(self._engine):
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints")
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        with self._engine.connect() as conn:
            while not self._stop.wait(self._interval):
                self._checkpoint(conn)
            self._checkpoint(conn)

    def _checkpoint(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        conn.commit()
        self.rounds += 1
