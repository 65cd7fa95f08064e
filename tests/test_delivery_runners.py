"""Notification delivery run by the server, and runners that overlap.

``crossline serve`` delivers every ``CROSSLINE_DELIVERY_SECONDS``; the CLI may run
beside it. Whatever runs, each notification goes to each channel once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.api.app import delivery_seconds
from crossline.events.delivery import DELIVERY_LOCK, LogChannel, deliver_pending
from crossline.security.pii import PiiCipher
from crossline.store.schema import notification_deliveries
from crossline.store.schema import platform as platform_table
from tests.test_notifications import START, _mail_book


def _deliveries(engine: sa.Engine) -> list[tuple[Any, ...]]:
    d = notification_deliveries.c
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(d.notification_id, d.channel, d.sent).order_by(d.notification_id)
            )
        ]


def test_the_server_delivers_each_notification_once(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    cipher = PiiCipher(os.urandom(32))
    ids = sorted(_mail_book(engine, cipher))
    app = create_app(engine, cipher, handle_events=False, deliver_every=0.05)
    with caplog.at_level(logging.INFO, logger="crossline.notifications"), TestClient(app):
        deadline = time.monotonic() + 20
        while len(_deliveries(engine)) < len(ids):
            assert time.monotonic() < deadline, "the server delivered nothing"
            time.sleep(0.05)
        time.sleep(0.3)  # several more rounds: none may send again
    assert _deliveries(engine) == [(n, "log", True) for n in ids]
    logged = [r.getMessage() for r in caplog.records if r.name == "crossline.notifications"]
    assert [line.split(" to ")[0] for line in logged] == [f"notification {n}" for n in ids]


def test_without_delivery_seconds_the_server_leaves_delivery_to_the_cli(
    engine: sa.Engine,
) -> None:
    cipher = PiiCipher(os.urandom(32))
    _mail_book(engine, cipher)
    with TestClient(create_app(engine, cipher, handle_events=False)):
        time.sleep(0.3)
    assert _deliveries(engine) == []


def test_a_runner_never_repeats_what_another_is_delivering(engine: sa.Engine) -> None:
    """Another runner is mid-batch: on PostgreSQL this one finds the lock taken and stops;
    on SQLite it waits for the write lock and then reads that nothing is left."""
    cipher = PiiCipher(os.urandom(32))
    ids = sorted(_mail_book(engine, cipher))
    result: dict[str, Any] = {}

    def second_runner() -> None:
        result["sent"] = deliver_pending(engine, [LogChannel()])

    with engine.connect() as holder:
        with holder.begin():
            if engine.dialect.name == "postgresql":
                holder.execute(sa.select(sa.func.pg_advisory_xact_lock(DELIVERY_LOCK)))
            else:
                business_date = platform_table.c.business_date
                holder.execute(sa.update(platform_table).values(business_date=business_date))
            runner = threading.Thread(target=second_runner)
            runner.start()
            time.sleep(0.3)
            holder.execute(
                sa.insert(notification_deliveries),
                [
                    {"notification_id": n, "channel": "log", "delivered_on": START, "sent": True}
                    for n in ids
                ],
            )
        runner.join(timeout=30)
    assert result["sent"] == {"log": 0}
    assert _deliveries(engine) == [(n, "log", True) for n in ids]


@pytest.mark.parametrize(
    ("text", "seconds"), [(None, 5.0), ("0", 0.0), ("0.5", 0.5), ("3600", 3600.0)]
)
def test_delivery_seconds_from_the_environment(text: str | None, seconds: float) -> None:
    environ = {} if text is None else {"CROSSLINE_DELIVERY_SECONDS": text}
    assert delivery_seconds(environ) == seconds


@pytest.mark.parametrize("text", ["-1", "soon", "3601", "nan"])
def test_a_bad_delivery_interval_is_refused_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="CROSSLINE_DELIVERY_SECONDS: expected seconds"):
        delivery_seconds({"CROSSLINE_DELIVERY_SECONDS": text})
