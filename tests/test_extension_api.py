"""The extension routes: POST /v1/extensions (request) and /v1/offers/acceptance (accept),
by the borrower or the line's provider, the acceptance idempotent, nothing written on a 4xx."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.catalog import load_catalog
from crossline.security import create_api_key, create_user, log_in
from crossline.security.pii import PiiCipher
from crossline.servicing.context import open_context
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.store.schema import extensions, journal, outbox
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.conftest import initialise
from tests.helpers import dump

START = date(2026, 3, 2)


@dataclass(frozen=True)
class Api:
    client: TestClient
    engine: sa.Engine
    alice: dict[str, str]
    bob: dict[str, str]
    weilidai: dict[str, str]
    huabei: dict[str, str]

    def post(self, path: str, who: dict[str, str], body: object, key: str | None = None) -> Any:
        headers = dict(who) | ({"Idempotency-Key": key} if key is not None else {})
        return self.client.post(f"/v1{path}", json=body, headers=headers)


@pytest.fixture
def api(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """Alice has a 5-month Weilidai loan of 6000.00; Bob is another borrower."""
    cheap_secret_hashing(monkeypatch)
    initialise(engine, START)
    catalog = load_catalog("default")
    with engine.begin() as conn:
        ctx = open_context(conn)
        for login in ("alice", "bob"):
            register_borrower(ctx, login, 900_000)
            create_user(conn, login, PASSWORD, "borrower", borrower_id=login)
        open_line(ctx, "alice", "weilidai", 3_000_000, Decimal("0.0004"))
        draw(ctx, "alice", "weilidai", 600_000, 5, "equal_principal")
        weilidai = create_api_key(conn, "weilidai", catalog)
        huabei = create_api_key(conn, "huabei", catalog)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        alice, bob = log_in(conn, "alice", PASSWORD, now), log_in(conn, "bob", PASSWORD, now)
    with TestClient(create_app(engine, PiiCipher(os.urandom(32)))) as client:
        yield Api(client, engine, bearer(alice), bearer(bob), bearer(weilidai), bearer(huabei))


def _quiet_dump(api: Api, timeout: float = 20.0) -> dict[str, list[tuple[object, ...]]]:
    """Every table, once the server's outbox worker has handled every event (it re-scores
    and marks events handled on its own schedule)."""
    deadline = time.monotonic() + timeout
    while True:
        with api.engine.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.handled.is_(False))
            ).scalar_one()
        if pending == 0:
            return dump(api.engine)
        assert time.monotonic() < deadline, f"{pending} events still unhandled"
        time.sleep(0.05)


REQUEST = {"borrower": "alice", "product": "weilidai", "months": 2}
ACCEPT = {"borrower": "alice", "product": "weilidai"}


def test_request_and_accept_through_the_api(api: Api) -> None:
    offered = api.post("/extensions", api.alice, REQUEST)
    assert offered.status_code == 200, offered.text
    body = offered.json()
    assert body["ok"] is True and body["fee"] == "60.00" and body["new_maturity"] == "2026-10-02"

    before = _quiet_dump(api)
    missing = api.post("/offers/acceptance", api.alice, ACCEPT)
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "Idempotency-Key"
    # Another borrower, or a provider of another product, cannot even see the line.
    stranger = api.post("/offers/acceptance", api.bob, ACCEPT, key="accept-1")
    assert stranger.status_code == 404
    other_provider = api.post("/offers/acceptance", api.huabei, ACCEPT, key="accept-1")
    assert other_provider.status_code == 404
    assert _quiet_dump(api) == before

    accepted = api.post("/offers/acceptance", api.weilidai, ACCEPT, key="accept-1")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["schedule"] == body["schedule"]
    again = api.post("/offers/acceptance", api.weilidai, ACCEPT, key="accept-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    with api.engine.connect() as conn:
        fees = conn.execute(
            sa.select(sa.func.count()).where(journal.c.event == "extension_fee")
        ).scalar_one()
        statuses = conn.execute(sa.select(extensions.c.status)).scalars().all()
        types = conn.execute(sa.select(outbox.c.type).order_by(outbox.c.event_id)).scalars()
        assert (fees, statuses) == (2, ["accepted"])  # one entry, two legs
        assert [t for t in types if "exten" in t] == ["extension_offered", "loan_extended"]


def test_a_refused_request_is_a_4xx_and_writes_nothing(api: Api) -> None:
    before = _quiet_dump(api)
    over = api.post("/extensions", api.alice, REQUEST | {"months": 6})
    assert over.status_code == 422, over.text
    assert over.json()["error"]["code"] == "extension_limit_art12"
    bad = api.post("/extensions", api.alice, REQUEST | {"months": 0})
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "months")
    nothing = api.post("/offers/acceptance", api.alice, ACCEPT, key="accept-2")
    assert nothing.json()["error"]["code"] == "no_pending_offer"
    assert _quiet_dump(api) == before
