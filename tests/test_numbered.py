"""Rows numbered from a counter: a command's rows and a batch's frame get the same ids."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.kernels.frames import EVENT_SCHEMA
from crossline.store.ids import allocate_ids, allocate_many
from crossline.store.numbered import append_frame, append_rows
from crossline.store.schema import outbox

DAY = date(2026, 3, 2)


def _rows(seed: int) -> list[dict[str, object]]:
    """Events of three borrowers over two lines each and none, shuffled, each payload
    naming its place in the list so that the stable order can be checked."""
    rng = random.Random(seed)
    rows = [
        {
            "borrower_id": borrower,
            "shard": 0,
            "business_date": DAY,
            "type": "test",
            "product": None,
            "credit_line_id": line,
            "loan_id": None,
            "payload": "",
        }
        for borrower in ("b-2", "b-10", "b-1")
        for line in (None, 7, 3)
        for _ in range(3)
    ]
    rng.shuffle(rows)
    return [row | {"payload": str(i)} for i, row in enumerate(rows)]


def _expected(rows: list[dict[str, object]], first: int) -> list[tuple[int, str]]:
    """Ids by borrower (as text), then the borrower's rows without a line, then by line;
    ties in the order given."""
    groups: dict[tuple[str, int], list[str]] = {}
    for row in rows:
        line = row["credit_line_id"]
        key = (str(row["borrower_id"]), -1 if line is None else int(str(line)))
        groups.setdefault(key, []).append(str(row["payload"]))
    ordered = [payload for key in sorted(groups) for payload in groups[key]]
    return [(first + i, payload) for i, payload in enumerate(ordered)]


def _stored(conn: sa.Connection) -> list[tuple[int, str]]:
    statement = sa.select(outbox.c.event_id, outbox.c.payload).order_by(outbox.c.event_id)
    return [(int(i), str(p)) for i, p in conn.execute(statement)]


def test_rows_and_frames_are_numbered_alike(engine: sa.Engine) -> None:
    rows = _rows(seed=11)
    with engine.begin() as conn:
        assert append_rows(conn, outbox, "outbox", [r | {"handled": False} for r in rows]) == 27
        first = _stored(conn)[0][0]
        assert _stored(conn) == _expected(rows, first)
        conn.execute(sa.delete(outbox))
        frame = pl.DataFrame(rows, schema=EVENT_SCHEMA).with_columns(handled=pl.lit(False))
        assert append_frame(conn, outbox, "outbox", frame) == 27
        assert _stored(conn) == _expected(rows, first + 27)


def test_nothing_to_append_takes_no_ids(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert append_rows(conn, outbox, "outbox", []) == 0
        assert append_frame(conn, outbox, "outbox", pl.DataFrame(schema=EVENT_SCHEMA)) == 0
        append_rows(conn, outbox, "outbox", [_rows(seed=1)[0] | {"handled": False}])
        assert _stored(conn)[0][0] == 1


def test_counters_taken_together_give_the_ids_taken_one_at_a_time(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert allocate_ids(conn, "decision", 4) == 1
        assert allocate_many(conn, {"notification": 2, "decision": 1, "application": 3}) == {
            "application": 1,
            "decision": 5,
            "notification": 1,
        }
        assert allocate_many(conn, {"decision": 2, "application": 1}) == {
            "application": 4,
            "decision": 6,
        }
        assert allocate_ids(conn, "decision", 1) == 8
        assert allocate_ids(conn, "notification", 1) == 3


def test_counters_taken_together_roll_back_with_the_command(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with conn.begin() as transaction:
            allocate_many(conn, {"decision": 1, "outbox": 5})
            transaction.rollback()
        with conn.begin():
            assert allocate_many(conn, {"decision": 1, "outbox": 5}) == {"decision": 1, "outbox": 1}


def test_taking_no_id_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn, pytest.raises(ValueError):
        allocate_many(conn, {"decision": 1, "outbox": 0})


def test_counters_taken_together_take_one_statement_on_postgresql(engine: sa.Engine) -> None:
    """One round trip on PostgreSQL; SQLite, in process, takes a statement a counter."""
    names = {"application": 1, "decision": 1, "notification": 1}
    with engine.begin() as conn:
        allocate_many(conn, names)
        statements: list[str] = []
        sa.event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        allocate_many(conn, names)
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else len(names))
