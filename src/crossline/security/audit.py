"""The audit log: every write, who made it, when and from where; append-only and hash-chained.

Each entry's ``hash`` is the SHA-256 of its canonical form, which includes the
previous entry's hash, so changing, removing or reordering any entry breaks
every link after it. The database refuses UPDATE and DELETE on the table
(migration 0008), and ``verify`` finds what got past that. Entries are
numbered from a transactional counter, which also records how many were
written, so even a deleted last entry is found.

An attacker who can rewrite the table can also recompute every hash after the
rows they change; what exposes that is a copy of an earlier head hash kept
elsewhere. Nothing here stores PII: the detail is refused if it holds
anything shaped like a national ID.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from crossline.security.moments import require_utc, stored_utc
from crossline.security.national_ids import SHAPED_LIKE_NATIONAL_ID
from crossline.servicing.errors import InputError
from crossline.store.ids import allocate_ids
from crossline.store.schema import audit_log, id_counters

GENESIS = "0" * 64
"""The previous hash of the first entry."""
COUNTER = "audit_log"


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """What ``verify`` found: ``first_bad`` is the first sequence number at fault."""

    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str | None = None


def record(
    conn: sa.Connection,
    *,
    actor: str,
    role: str,
    action: str,
    target: str,
    source: str,
    detail: Mapping[str, Any],
    at: datetime,
) -> int:
    """Append an entry in the caller's transaction and return its sequence number.

    Call it last in a command's transaction: taking the next number locks the
    log's counter until commit (a chain has one order, so writers take turns),
    and the entry is written, or rolled back, with the change it records.
    """
    fields = {"actor": actor, "role": role, "action": action, "target": target, "source": source}
    for name, value in fields.items():
        _check_text(name, value)
    detail_text = _canonical_detail(detail)
    moment = require_utc(at, "at")
    seq = allocate_ids(conn, COUNTER, 1)
    prev_hash = GENESIS if seq == 1 else _hash_of(conn, seq - 1)
    row = {"seq": seq, "at": moment, **fields, "detail": detail_text, "prev_hash": prev_hash}
    conn.execute(sa.insert(audit_log).values(**row, hash=_entry_hash(row)))
    return seq


def verify(conn: sa.Connection) -> AuditCheck:
    """Walk the log in order and check every number, link and hash."""
    entries = 0
    prev_hash = GENESIS
    rows = conn.execute(
        sa.select(audit_log).order_by(audit_log.c.seq).execution_options(yield_per=10_000)
    )
    for row in rows.mappings():
        expected = entries + 1
        if row["seq"] != expected:
            return _bad(entries, expected, f"seq {expected} is missing (the next is {row['seq']})")
        if _entry_hash(row) != row["hash"]:
            return _bad(entries, expected, f"seq {expected} does not match its hash (edited)")
        if row["prev_hash"] != prev_hash:
            return _bad(
                entries,
                expected,
                f"seq {expected} does not follow seq {entries}: the chain is broken "
                "(an entry before it was replaced or moved)",
            )
        prev_hash = row["hash"]
        entries = expected
    written = _written(conn)
    if written > entries:
        return _bad(
            entries,
            entries + 1,
            f"seq {entries + 1} is missing: {written} entries were written, {entries} remain",
        )
    return AuditCheck(ok=True, entries=entries)


def _bad(entries: int, seq: int, problem: str) -> AuditCheck:
    return AuditCheck(ok=False, entries=entries, first_bad=seq, problem=problem)


def _entry_hash(row: Mapping[Any, Any]) -> str:
    """SHA-256 of the entry's canonical JSON: every column but the hash, the time in UTC."""
    canonical = {
        "seq": int(row["seq"]),
        "at": stored_utc(row["at"]).isoformat(timespec="microseconds"),
        **{name: row[name] for name in ("actor", "role", "action", "target", "source")},
        "detail": row["detail"],
        "prev_hash": row["prev_hash"],
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical_detail(detail: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, no NaN: the same detail is always the same text."""
    try:
        text = json.dumps(
            dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InputError("detail", f"expected JSON-serialisable values: {exc}") from exc
    if SHAPED_LIKE_NATIONAL_ID.search(text):
        raise InputError("detail", "holds something shaped like a national ID; never log PII")
    return text


def _check_text(name: str, value: str) -> None:
    limit = cast(sa.String, audit_log.c[name].type).length
    if not value or (limit is not None and len(value) > limit):
        raise InputError(name, f"expected 1 to {limit} characters")


def _hash_of(conn: sa.Connection, seq: int) -> str:
    """The hash of entry ``seq``; a gap means the log was tampered with, so writing stops."""
    found: str | None = conn.execute(
        sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)
    ).scalar_one_or_none()
    if found is None:
        raise RuntimeError(
            f"audit log entry {seq} is missing; run `crossline audit verify` and investigate"
        )
    return found


def _written(conn: sa.Connection) -> int:
    """How many entries the counter says were written."""
    next_value = conn.execute(
        sa.select(id_counters.c.next_value).where(id_counters.c.name == COUNTER)
    ).scalar_one_or_none()
    return 0 if next_value is None else int(next_value) - 1
