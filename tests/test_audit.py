"""The audit log: append-only, hash-chained, and ``verify`` finds each kind of tampering."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crossline.security.audit import GENESIS, AuditCheck, _entry_hash, record, verify
from crossline.servicing.errors import InputError
from crossline.store.schema import audit_log
from tests.helpers import dump

AT = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)


def _record(conn: sa.Connection, n: int, **overrides: Any) -> int:
    entry: dict[str, Any] = {
        "actor": "clk-key-1" if n % 2 else "li.wei",
        "role": "provider" if n % 2 else "operator",
        "action": "repayment.create",
        "target": f"loan/{n}",
        "source": "203.0.113.7",
        "detail": {"amount": "300.00", "n": n},
        "at": AT + timedelta(seconds=n),
    }
    return record(conn, **{**entry, **overrides})


@pytest.fixture
def logged(engine: sa.Engine) -> sa.Engine:
    """Four entries."""
    with engine.begin() as conn:
        for n in range(1, 5):
            _record(conn, n)
    return engine


def _check(engine: sa.Engine) -> AuditCheck:
    with engine.connect() as conn:
        return verify(conn)


def _rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).mappings()
        return [dict(r) for r in rows]


def test_entries_are_numbered_and_chained(logged: sa.Engine) -> None:
    rows = _rows(logged)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    assert _check(logged) == AuditCheck(ok=True, entries=4)


def test_the_hash_is_sha256_of_the_canonical_row(logged: sa.Engine) -> None:
    """Written out independently, so a change to the canonical form is a visible decision."""
    first = _rows(logged)[0]
    canonical = (
        '{"action":"repayment.create","actor":"clk-key-1",'
        '"at":"2026-03-02T09:30:01.123456+00:00",'
        '"detail":"{\\"amount\\":\\"300.00\\",\\"n\\":1}",'
        f'"prev_hash":"{GENESIS}","role":"provider","seq":1,'
        '"source":"203.0.113.7","target":"loan/1"}'
    )
    assert first["detail"] == '{"amount":"300.00","n":1}'
    assert first["hash"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_the_detail_is_stored_canonically(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _record(conn, 1, detail={"z": [1, 2], "a": "借呗", "m": {"y": None, "b": True}})
    assert _rows(engine)[0]["detail"] == '{"a":"借呗","m":{"b":true,"y":null},"z":[1,2]}'


def test_a_moment_in_another_zone_is_stored_as_the_same_instant(engine: sa.Engine) -> None:
    beijing = AT.astimezone(ZoneInfo("Asia/Shanghai"))
    with engine.begin() as conn:
        _record(conn, 1, at=beijing)
    assert _check(engine).ok
    stored = _rows(engine)[0]["at"]
    assert (stored if stored.tzinfo else stored.replace(tzinfo=UTC)) == beijing


def test_an_empty_log_is_intact(engine: sa.Engine) -> None:
    assert _check(engine) == AuditCheck(ok=True, entries=0)


def test_a_rolled_back_entry_leaves_no_gap(logged: sa.Engine) -> None:
    with pytest.raises(RuntimeError, match="the command failed"), logged.begin() as conn:
        _record(conn, 5)
        raise RuntimeError("the command failed")
    with logged.begin() as conn:
        assert _record(conn, 5) == 5
    assert _check(logged) == AuditCheck(ok=True, entries=5)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_change_the_log(logged: sa.Engine, statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"), logged.begin() as conn:
        conn.exec_driver_sql(statement)
    assert len(_rows(logged)) == 4


@contextmanager
def _tampering(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction past the append-only triggers, as someone with the database's keys."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        yield conn


def _rehash(conn: sa.Connection, seq: int) -> None:
    """Recompute one entry's hash over its present contents, as a careful forger would."""
    row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq)).mappings().one()
    conn.execute(sa.update(audit_log).where(audit_log.c.seq == seq).values(hash=_entry_hash(row)))


def test_an_edited_entry_is_found(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(
            sa.update(audit_log).where(audit_log.c.seq == 2).values(detail='{"amount":"3.00"}')
        )
    check = _check(logged)
    assert (check.ok, check.first_bad, check.entries) == (False, 2, 1)
    assert check.problem == "seq 2 does not match its hash (edited)"


def test_a_deleted_entry_is_found(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 2))
    check = _check(logged)
    assert (check.ok, check.first_bad) == (False, 2)
    assert check.problem == "seq 2 is missing (the next is 3)"


def test_a_deleted_last_entry_is_found(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 4))
    check = _check(logged)
    assert (check.ok, check.first_bad, check.entries) == (False, 4, 3)
    assert check.problem == "seq 4 is missing: 4 entries were written, 3 remain"


def test_reordered_entries_are_found(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2).values(seq=-2))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3).values(seq=2))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == -2).values(seq=3))
    check = _check(logged)
    assert (check.ok, check.first_bad) == (False, 2)


def test_reordered_and_rehashed_entries_break_the_chain(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2).values(seq=-2))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 3).values(seq=2))
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == -2).values(seq=3))
        _rehash(conn, 2)
        _rehash(conn, 3)
    check = _check(logged)
    assert (check.ok, check.first_bad) == (False, 2)
    assert check.problem is not None and "the chain is broken" in check.problem


def test_an_edit_hidden_by_a_new_hash_breaks_the_chain_after_it(logged: sa.Engine) -> None:
    with _tampering(logged) as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == 2).values(actor="nobody"))
        _rehash(conn, 2)
    check = _check(logged)
    assert (check.ok, check.first_bad, check.entries) == (False, 3, 2)
    assert check.problem == (
        "seq 3 does not follow seq 2: the chain is broken "
        "(an entry before it was replaced or moved)"
    )


def test_writing_stops_after_the_last_entry_went_missing(logged: sa.Engine) -> None:
    """Chaining a new entry to a gap would hide the gap; the log refuses to grow instead."""
    with _tampering(logged) as conn:
        conn.execute(sa.delete(audit_log).where(audit_log.c.seq == 4))
    with pytest.raises(RuntimeError, match="audit log entry 4 is missing"), logged.begin() as conn:
        _record(conn, 5)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"actor": ""}, "actor"),
        ({"role": "r" * 17}, "role"),
        ({"source": "x" * 65}, "source"),
        ({"detail": {"when": datetime(2026, 3, 2)}}, "detail"),
        ({"detail": {"ratio": float("nan")}}, "detail"),
        ({"detail": {"applicant": "11010519491231002X"}}, "detail"),
    ],
    ids=["actor", "role", "source", "not-json", "nan", "national-id"],
)
def test_a_bad_entry_is_refused_naming_the_field_and_nothing_is_written(
    logged: sa.Engine, overrides: dict[str, Any], field: str
) -> None:
    before = dump(logged)
    with pytest.raises(InputError, match=f"^{field}: ") as caught, logged.begin() as conn:
        _record(conn, 5, **overrides)
    assert caught.value.field == field
    assert "11010519491231002X" not in str(caught.value)
    assert dump(logged) == before


def test_a_naive_moment_is_refused(logged: sa.Engine) -> None:
    with pytest.raises(ValueError, match="at: expected a timezone-aware"), logged.begin() as conn:
        _record(conn, 5, at=datetime(2026, 3, 2, 9, 30))


def test_detail_json_is_what_was_given(logged: sa.Engine) -> None:
    assert [json.loads(r["detail"])["n"] for r in _rows(logged)] == [1, 2, 3, 4]
