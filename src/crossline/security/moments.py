"""Wall-clock moments as security stores them: in UTC.

Sessions expire and audit entries are dated by the wall clock, not the
business date (which stands still between end-of-days). SQLite keeps no time
zone, so every moment is converted to UTC before it is stored and a moment
read back without one is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def require_utc(moment: datetime, field: str) -> datetime:
    """``moment`` in UTC; a naive datetime is refused, since its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field}: expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def stored_utc(value: datetime) -> datetime:
    """A moment read from the database, in UTC (SQLite returns it without a zone)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now_utc() -> datetime:
    """The current moment, for records whose caller passes no clock (key and user creation)."""
    return datetime.now(UTC)
