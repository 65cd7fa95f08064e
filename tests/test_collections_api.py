"""The collections API: the queue for a lender group's staff, contacts refused by the
rules with nothing written, promises, and the borrower's consent."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.api.app import create_app
from crossline.security.pii import PiiCipher
from crossline.security.sessions import log_in
from crossline.security.users import create_user
from crossline.store.schema import audit_log, contacts, notifications
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.helpers import dump, run_yaml
from tests.test_collections import BOOK, _mark_bob_late


@dataclass
class Desk:
    client: TestClient
    engine: sa.Engine
    webank: dict[str, str]
    ant: dict[str, str]
    bob: dict[str, str]

    def post(self, path: str, who: dict[str, str], body: object) -> Any:
        return self.client.post(f"/v1{path}", json=body, headers=who)

    def get(self, path: str, who: dict[str, str]) -> Any:
        return self.client.get(f"/v1{path}", headers=who)


@pytest.fixture
def desk(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    cheap_secret_hashing(monkeypatch)
    run_yaml(engine, BOOK)
    _mark_bob_late(engine)
    with engine.begin() as conn:
        create_user(conn, "wei", PASSWORD, "operator", lender_group="webank")
        create_user(conn, "ana", PASSWORD, "operator", lender_group="ant")
        create_user(conn, "bob", PASSWORD, "borrower", borrower_id="bob")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        tokens = {login: log_in(conn, login, PASSWORD, now) for login in ("wei", "ana", "bob")}
    app = create_app(engine, PiiCipher(os.urandom(32)), handle_events=False)
    with TestClient(app) as client:
        yield Desk(
            client,
            engine,
            webank=bearer(tokens["wei"]),
            ant=bearer(tokens["ana"]),
            bob=bearer(tokens["bob"]),
        )


CALL = {
    "borrower": "bob",
    "product": "weilidai",
    "at": "10:00",
    "channel": "call",
    "party": "debtor",
    "number": "13800000001",
}


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_the_queue_shows_staff_their_own_groups_lines_only(desk: Desk) -> None:
    answer = desk.get("/collections/queue", desk.webank)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["business_date"] == "2026-04-02"
    assert [(e["borrower"], e["product"], e["bucket"]) for e in body["queue"]] == [
        ("bob", "weilidai", "M1")
    ]
    assert desk.get("/collections/queue", desk.ant).json()["queue"] == []
    assert _error(desk.get("/collections/queue", desk.bob)) == (403, "forbidden")


def test_a_night_call_is_refused_with_the_rule_and_writes_nothing(desk: Desk) -> None:
    before = dump(desk.engine)
    answer = desk.post("/contacts", desk.webank, CALL | {"at": "23:00"})
    assert _error(answer) == (422, "quiet_hours")
    assert "22:00" in answer.json()["error"]["message"]
    assert _error(desk.post("/contacts", desk.webank, CALL | {"fee": "20.00"})) == (
        422,
        "collection_fee_forbidden",
    )
    assert _error(desk.post("/contacts", desk.webank, CALL | {"at": "8:00"}))[0] == 400
    assert dump(desk.engine) == before


def test_a_contact_is_recorded_by_its_operator_without_the_number(desk: Desk) -> None:
    answer = desk.post("/contacts", desk.webank, CALL | {"operator": "someone else"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    with desk.engine.connect() as conn:
        row = conn.execute(sa.select(contacts)).one()
        details = [json.loads(d) for d in conn.execute(sa.select(audit_log.c.detail)).scalars()]
    assert row.operator == "wei" and row.number_key.startswith("h:")
    assert "13800000001" not in json.dumps(details) and "13800000001" not in row.number_key
    assert [d["at"] for d in details if "at" in d] == ["10:00"]


def test_staff_of_another_group_and_borrowers_cannot_record_contacts(desk: Desk) -> None:
    before = dump(desk.engine)
    assert _error(desk.post("/contacts", desk.ant, CALL)) == (404, "not_found")
    assert _error(desk.post("/contacts", desk.bob, CALL)) == (403, "forbidden")
    assert dump(desk.engine) == before


def test_a_promise_from_an_answered_contact(desk: Desk) -> None:
    promise = {"borrower": "bob", "product": "weilidai", "amount": "500.00", "by": "2026-04-09"}
    assert _error(desk.post("/promises", desk.webank, promise)) == (422, "promise_needs_contact")
    assert desk.post("/contacts", desk.webank, CALL | {"answered": True}).status_code == 200
    answer = desk.post("/promises", desk.webank, promise)
    assert answer.status_code == 200, answer.text
    assert answer.json()["amount"] == "500.00"
    with desk.engine.connect() as conn:
        kinds = list(conn.execute(sa.select(notifications.c.kind)).scalars())
    assert "promise_recorded" in kinds


def test_night_consent_is_the_borrowers_to_give(desk: Desk) -> None:
    assert _error(desk.post("/contact-consents", desk.webank, {"borrower": "bob"})) == (
        403,
        "forbidden",
    )
    assert desk.post("/contact-consents", desk.bob, {"borrower": "bob"}).status_code == 200
    assert desk.post("/contacts", desk.webank, CALL | {"at": "23:00"}).status_code == 200


def test_the_console_shows_the_groups_queue(desk: Desk) -> None:
    assert desk.post("/contacts", desk.webank, CALL | {"answered": True}).status_code == 200
    token = desk.webank["Authorization"].removeprefix("Bearer ")
    desk.client.cookies.set("crossline_session", token)
    text = desk.client.get("/console/collections").text
    assert 'data-line="bob/weilidai"' in text
    assert "2026-04-02 10:00 call debtor" in text and "answered" in text
    desk.client.cookies.set("crossline_session", desk.ant["Authorization"].removeprefix("Bearer "))
    text = desk.client.get("/console/collections").text
    assert "bob/weilidai" not in text and 'id="empty-queue"' in text
