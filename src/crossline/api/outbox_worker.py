"""The API server's outbox runner: re-scoring and account management after commits.

A command answers as soon as its own transaction commits; what it changes in
other places — the borrower's score in each group's view, the policies'
reactions on their other lines — runs after, in batches, as production runs it
(``events.handlers.handle_pending``). One thread per server process polls the
outbox; across processes the handler's own lock keeps one runner per batch.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from crossline.events.handlers import handle_pending

log = logging.getLogger("crossline.api")

POLL_SECONDS = 0.1
"""How long after a commit its events wait, at most, before they are handled."""


class OutboxWorker:
    """Handles pending events every ``POLL_SECONDS`` until stopped."""

    def __init__(self, engine: sa.Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self._engine = engine
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish the round in progress, then stop."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                handle_pending(self._engine)
            except Exception:
                # A failed round is rolled back and retried on the next; the server stays up.
                log.exception("outbox round failed; retrying")
