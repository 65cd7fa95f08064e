"""Log-in sessions for the portal and the console.

A session token is 32 random bytes handed to the browser; the database keeps
only its SHA-256, so a copy of the sessions table cannot be replayed. A
session lasts ``SESSION_LIFETIME`` from log-in, by the wall clock the caller
passes in.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from crossline.security import hashing, throttle
from crossline.security.moments import require_utc
from crossline.security.principals import Principal, Role
from crossline.store.schema import sessions, users

SESSION_LIFETIME = timedelta(hours=12)
"""A working day: staff log in once a shift; a borrower's tab left open expires overnight."""


def log_in(conn: sa.Connection, login: str, password: str, now: datetime) -> str | None:
    """A fresh session token, or None for bad credentials.

    An unknown login and a wrong password get the same answer after the same
    work (an argon2 check either way), so neither the answer nor its timing
    tells which logins exist; both count as a failure towards the throttle
    (``TooManyAttemptsError`` once it is reached, before any check). A password
    hashed with older argon2 parameters is rehashed with the current ones on a
    successful log-in, and the expired sessions of every user are deleted then:
    they no longer open anything, and a log-in is when the table grows.
    """
    moment = require_utc(now, "now")
    subject = f"login:{login}"
    throttle.check(conn, subject, moment)
    stored = conn.execute(
        sa.select(users.c.password_hash).where(users.c.login == login)
    ).scalar_one_or_none()
    if stored is None:
        hashing.spend_like_a_check(password)
        throttle.record_failure(conn, subject, moment)
        return None
    if not hashing.secret_matches(stored, password):
        throttle.record_failure(conn, subject, moment)
        return None
    throttle.clear(conn, subject)
    conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= moment))
    if hashing.needs_rehash(stored):
        conn.execute(
            sa.update(users)
            .where(users.c.login == login)
            .values(password_hash=hashing.hash_secret(password))
        )
    token = secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(sessions).values(
            token_hash=hashing.token_digest(token),
            login=login,
            created_at=moment,
            expires_at=moment + SESSION_LIFETIME,
        )
    )
    return token


def authenticate_session(conn: sa.Connection, token: str, now: datetime) -> Principal | None:
    """The user a session token stands for; None if unknown, logged out or expired."""
    moment = require_utc(now, "now")
    row = conn.execute(
        sa.select(users.c.login, users.c.role, users.c.borrower_id, users.c.lender_group)
        .join(sessions, sessions.c.login == users.c.login)
        .where(
            sessions.c.token_hash == hashing.token_digest(token),
            sessions.c.expires_at > moment,
        )
    ).first()
    if row is None:
        return None
    return Principal(
        role=cast(Role, row.role),
        subject=row.login,
        borrower_id=row.borrower_id,
        lender_group=row.lender_group,
    )


def log_out(conn: sa.Connection, token: str) -> None:
    """End the session; ending an unknown or already ended one does nothing (a double click)."""
    conn.execute(sa.delete(sessions).where(sessions.c.token_hash == hashing.token_digest(token)))
