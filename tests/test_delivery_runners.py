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
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.api.app import delivery_seconds
from crossline.events.delivery import (
    DELIVERY_LOCK,
    LogChannel,
    SmtpChannel,
    SmtpSettings,
    deliver_pending,
)
from crossline.events.preferences import save_email
from crossline.security.pii import PiiCipher
from crossline.store.schema import notification_deliveries
from tests.test_notifications import START, _free_port, _mail_book


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


def test_overlapping_runners_record_each_notification_once(engine: sa.Engine) -> None:
    """Another runner is mid-batch. On PostgreSQL this one finds the lock taken and stops.
    On SQLite it is not held back (that would hold every command back while mail goes
    out): it may send again, at least once, and then fails to record it."""
    cipher = PiiCipher(os.urandom(32))
    ids = sorted(_mail_book(engine, cipher))
    result: dict[str, Any] = {}

    def second_runner() -> None:
        try:
            result["sent"] = deliver_pending(engine, [LogChannel()])
        except sa.exc.DBAPIError as exc:
            result["error"] = exc

    with engine.connect() as holder:
        with holder.begin():
            if engine.dialect.name == "postgresql":
                holder.execute(sa.select(sa.func.pg_advisory_xact_lock(DELIVERY_LOCK)))
            holder.execute(
                sa.insert(notification_deliveries),
                [
                    {"notification_id": n, "channel": "log", "delivered_on": START, "sent": True}
                    for n in ids
                ],
            )
            runner = threading.Thread(target=second_runner)
            runner.start()
            time.sleep(0.3)
        runner.join(timeout=60)
    if engine.dialect.name == "postgresql":
        assert result == {"sent": {"log": 0}}
    else:
        assert set(result) == {"error"}
    assert _deliveries(engine) == [(n, "log", True) for n in ids]


class _Refusing:
    """An aiosmtpd handler that refuses one address and keeps the rest of the mail."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.recipients: list[str] = []

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refused:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def test_a_refused_address_is_recorded_and_holds_back_nothing(engine: sa.Engine) -> None:
    cipher = PiiCipher(os.urandom(32))
    ids = _mail_book(engine, cipher)  # Jun's, then Mei's notification
    with engine.begin() as conn:
        save_email(conn, cipher, "jun", "jun@example.com")
    handler = _Refusing("mei@example.com")
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = SmtpChannel(SmtpSettings("127.0.0.1", port, "notices@crossline.example"))
        assert deliver_pending(engine, [channel], cipher) == {"smtp": 1}
        assert deliver_pending(engine, [channel], cipher) == {"smtp": 0}
    finally:
        controller.stop()
    assert handler.recipients == ["jun@example.com"]
    jun_id, mei_id = ids
    d = notification_deliveries.c
    with engine.connect() as conn:
        done = dict(conn.execute(sa.select(d.notification_id, d.sent)).all())
    assert done == {jun_id: True, mei_id: False}


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
