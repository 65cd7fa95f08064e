"""Guessing secrets, slowed down: a few wrong tries per login or API key, then a pause.

A password can be guessed; an API-key secret cannot (32 random bytes), but each
wrong one costs the server an argon2 check, tens of milliseconds of a core. So each
subject (``login:<login>``, ``key:<key_id>``) may fail ``MAX_FAILURES`` times in
``WINDOW``; after that it is refused without checking the secret until the oldest
failure leaves the window. Failures are rows in the database, so every server
process counts the same ones, and they commit with the refusal they record. An
unknown login is counted like a known one, so the throttle does not tell which
logins exist.

OWASP's authentication cheat sheet asks for this (a lockout threshold with an
observation window); a window rather than a permanent lock keeps an attacker from
locking a borrower out for good.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from crossline.security.moments import require_utc, stored_utc
from crossline.servicing.errors import ServicingError
from crossline.store.schema import auth_failures

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


class TooManyAttemptsError(ServicingError):
    """The subject failed too often of late; ``retry_after`` seconds until it may try."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too_many_attempts",
            f"too many wrong attempts; try again in {retry_after} seconds",
        )
        self.retry_after = retry_after


def check(conn: sa.Connection, subject: str, now: datetime) -> None:
    """Raise ``TooManyAttemptsError`` if ``subject`` may not try a secret now."""
    moment = require_utc(now, "now")
    f = auth_failures.c
    recent = conn.execute(
        sa.select(f.failed_at)
        .where(f.subject == subject, f.failed_at > moment - WINDOW)
        .order_by(f.failed_at.desc())
        .limit(MAX_FAILURES)
    ).scalars()
    failures = [stored_utc(at) for at in recent]
    if len(failures) >= MAX_FAILURES:
        free_at = failures[-1] + WINDOW
        raise TooManyAttemptsError(max(1, int((free_at - moment).total_seconds()) + 1))


def record_failure(conn: sa.Connection, subject: str, now: datetime) -> None:
    """Count a wrong secret, and forget the subject's failures older than the window."""
    moment = require_utc(now, "now")
    f = auth_failures.c
    conn.execute(
        sa.delete(auth_failures).where(f.subject == subject, f.failed_at <= moment - WINDOW)
    )
    conn.execute(sa.insert(auth_failures).values(subject=subject, failed_at=moment))


def clear(conn: sa.Connection, subject: str) -> None:
    """A right secret: the subject's failures no longer count."""
    conn.execute(sa.delete(auth_failures).where(auth_failures.c.subject == subject))
