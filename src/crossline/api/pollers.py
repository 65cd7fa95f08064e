"""The API server's background rounds: the outbox after commits, and notification delivery.

A command answers as soon as its own transaction commits; what it changes in
other places — the borrower's score in each group's view, the policies'
reactions on their other lines — runs after, in batches, as production runs it
(``events.handlers.handle_pending``). The notifications those transactions wrote
are carried to the borrowers' channels (the log, and mail when configured) by
``events.delivery.deliver_pending``. Each server process polls both; across
processes each round's own lock keeps one runner at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("crossline.api")

OUTBOX_SECONDS = 0.1
"""How long after a commit its events wait, at most, before they are handled."""
DELIVERY_SECONDS = 5.0
"""How long a notification waits, at most, before it is delivered (``serve`` reads
``CROSSLINE_DELIVERY_SECONDS``; 0 leaves delivery to ``crossline notifications deliver``)."""


class Poller:
    """Runs ``round`` every ``seconds`` on its own thread until stopped."""

    def __init__(self, name: str, round_: Callable[[], object], seconds: float) -> None:
        self._round = round_
        self._seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish the round in progress, then stop."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._round()
            except Exception:
                # A failed round is rolled back and retried on the next; the server stays up.
                log.exception("%s round failed; retrying", self._thread.name)
