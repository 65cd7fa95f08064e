"""A command's inserts sent together (``store.inserts``) write what one insert each writes,
and a refused batch writes nothing; on PostgreSQL they go as one statement."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.decisions.applications import set_borrower_limit
from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit
from crossline.servicing.context import Context, open_context
from crossline.servicing.lines import register_borrower
from crossline.store.inserts import Inserts
from crossline.store.schema import borrower_limits, notifications, outbox
from tests.conftest import initialise
from tests.helpers import dump

DAY = date(2026, 3, 2)


def _queue(ctx: Context, later: Inserts, first_event: int) -> None:
    conn = ctx.conn
    events = [
        Event("amy", 7, DAY, "inquiry", payload={"n": 1}),
        Event("amy", 7, DAY, "inquiry", payload={"n": 2}),
    ]
    emit(conn, events, first_event, later)
    notify(conn, [Notice("amy", 7, DAY, "application_decision", {"status": "ok"})], 40, later)
    set_borrower_limit(ctx, "amy", "ant", 900_000, later)


def test_inserts_sent_together_write_every_row(engine: sa.Engine) -> None:
    initialise(engine, DAY)
    with engine.begin() as conn:
        register_borrower(open_context(conn), "amy", 500_000)
    statements: list[str] = []

    def sent(*executed: Any) -> None:
        statements.append(executed[2])

    with engine.begin() as conn:
        ctx = open_context(conn)
        sa.event.listen(engine, "before_cursor_execute", sent)
        later = Inserts()
        _queue(ctx, later, 10)
        assert statements == []  # nothing is written before the command sends
        later.send(conn)
        sa.event.remove(engine, "before_cursor_execute", sent)
    expected_statements = 1 if engine.dialect.name == "postgresql" else 3
    assert len(statements) == expected_statements
    with engine.connect() as conn:
        events = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.payload).order_by(outbox.c.event_id)
        ).all()
        notified = conn.execute(
            sa.select(notifications.c.notification_id, notifications.c.payload)
        ).all()
        limit = conn.execute(sa.select(borrower_limits.c.limit_fen)).scalar_one()
    assert [(i, json.loads(p)) for i, p in events] == [(10, {"n": 1}), (11, {"n": 2})]
    assert [(i, json.loads(p)) for i, p in notified] == [(40, {"status": "ok"})]
    assert limit == 900_000


def test_every_value_is_read_back_as_it_was_given(engine: sa.Engine) -> None:
    """Integers at the edge of a bigint, a boolean, dates, nulls, JSON held as text and
    text that JSON must escape come back as given, whichever way the batch was sent."""
    initialise(engine, DAY)
    with engine.begin() as conn:
        register_borrower(open_context(conn), "amy", 500_000)
    given = [
        {
            "event_id": 2**63 - 1,
            "borrower_id": "amy",
            "shard": 7,
            "business_date": date(2024, 2, 29),
            "type": "inquiry",
            "product": None,
            "credit_line_id": None,
            "loan_id": 2**31 - 1,
            "payload": json.dumps({"text": 'a "quoted" \\ back\nslash, 借呗'}),
            "handled": True,
        },
        {
            "event_id": 12,
            "borrower_id": "amy",
            "shard": 7,
            "business_date": DAY,
            "type": "repaid",
            "product": "jiebei",
            "credit_line_id": 3,
            "loan_id": None,
            "payload": "{}",
            "handled": False,
        },
    ]
    limit = {"borrower_id": "amy", "shard": 7, "lender_group": "ant", "limit_fen": 1}
    with engine.begin() as conn:
        later = Inserts()
        later.add(outbox.insert(), given)
        later.add(borrower_limits.insert(), [limit | {"set_on": date(1999, 12, 31)}])
        later.send(conn)
    with engine.connect() as conn:
        written = conn.execute(sa.select(outbox).order_by(outbox.c.event_id)).mappings().all()
        limits = conn.execute(sa.select(borrower_limits)).mappings().all()
    assert [dict(row) for row in written] == sorted(given, key=lambda row: row["event_id"])
    assert [dict(row) for row in limits] == [limit | {"set_on": date(1999, 12, 31)}]


def test_a_refused_batch_writes_nothing(engine: sa.Engine) -> None:
    initialise(engine, DAY)
    with engine.begin() as conn:
        register_borrower(open_context(conn), "amy", 500_000)
        emit(conn, [Event("amy", 7, DAY, "inquiry", payload={})], 11)
    before = dump(engine)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        later = Inserts()
        _queue(open_context(conn), later, 10)  # its second event takes id 11, already written
        later.send(conn)
    assert dump(engine) == before
