"""The HTTP API: who may do what, one error shape, idempotent money, nothing written on a 4xx.

Each test drives the FastAPI app in process (httpx through Starlette's test
client) over a real database on each backend, with credentials made the way an
operator makes them (``security.principals``).
"""

from __future__ import annotations

import logging.config
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from anyio import to_thread
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crossline.api import create_app
from crossline.api.app import BACKGROUND_CONNECTIONS, REQUEST_THREADS, from_environment
from crossline.catalog import load_catalog
from crossline.cli import app
from crossline.cli.serve import log_config
from crossline.events.handlers import HANDLER_LOCK, handle_pending
from crossline.scenario.state import snapshot
from crossline.security import audit, create_api_key, create_user, log_in
from crossline.security.pii import KEY_VARIABLE, PiiCipher, generate_key
from crossline.security.throttle import MAX_FAILURES, WINDOW
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store.engine import make_engine
from crossline.store.schema import (
    bureau_inquiries,
    credit_lines,
    idempotency_keys,
    loans,
    outbox,
)
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.conftest import initialise
from tests.helpers import dump

START = date(2026, 3, 2)


@dataclass(frozen=True)
class Api:
    """The app, its engine and a bearer header for each caller the tests use."""

    client: TestClient
    engine: sa.Engine
    alice: dict[str, str]
    bob: dict[str, str]
    huabei: dict[str, str]
    weilidai: dict[str, str]

    def post(self, path: str, who: dict[str, str], body: object, key: str | None = None):  # type: ignore[no-untyped-def]
        headers = dict(who) | ({"Idempotency-Key": key} if key is not None else {})
        return self.client.post(f"/v1{path}", json=body, headers=headers)

    def get(self, path: str, who: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.get(f"/v1{path}", headers=who)


def settle(api: Api, timeout: float = 20.0) -> None:
    """Wait until the server's outbox worker has handled every event committed so far."""
    deadline = time.monotonic() + timeout
    while True:
        with api.engine.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.handled.is_(False))
            ).scalar_one()
        if pending == 0:
            return
        assert time.monotonic() < deadline, f"{pending} events still unhandled"
        time.sleep(0.05)


def settled_dump(api: Api) -> dict[str, list[tuple[object, ...]]]:
    """Every table, once the worker is idle: what a request did or did not write."""
    settle(api)
    return dump(api.engine)


@pytest.fixture
def api(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    cheap_secret_hashing(monkeypatch)
    initialise(engine, START)
    catalog = load_catalog("default")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "alice", 900_000)
        register_borrower(ctx, "bob", 700_000)
        for login in ("alice", "bob"):
            create_user(conn, login, PASSWORD, "borrower", borrower_id=login)
        huabei = create_api_key(conn, "huabei", catalog)
        weilidai = create_api_key(conn, "weilidai", catalog)
    with engine.begin() as conn:
        alice = log_in(conn, "alice", PASSWORD, now)
        bob = log_in(conn, "bob", PASSWORD, now)
    assert alice is not None and bob is not None
    with TestClient(create_app(engine, PiiCipher(os.urandom(32)))) as client:
        yield Api(
            client,
            engine,
            bearer(alice),
            bearer(bob),
            bearer(huabei),
            bearer(weilidai),
        )


def open_lines(api: Api) -> None:
    """Alice holds Huabei and Weilidai, approved by the shipped policies."""
    for product in ("huabei", "weilidai"):
        answer = api.post("/applications", api.alice, {"borrower": "alice", "product": product})
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "approved", answer.json()


def _error(response) -> tuple[int, str, str | None]:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, body["error"]["code"], body["error"].get("field")


def test_a_request_without_a_valid_credential_is_401(api: Api) -> None:
    before = settled_dump(api)
    body = {"borrower": "alice", "product": "huabei"}
    assert _error(api.post("/applications", {}, body)) == (401, "unauthenticated", None)
    wrong = bearer("not-a-session")
    assert _error(api.post("/applications", wrong, body)) == (401, "unauthenticated", None)
    forged = bearer(api.huabei["Authorization"].removeprefix("Bearer ")[:-4] + "AAAA")
    assert _error(api.get("/borrowers/alice/lines", forged)) == (401, "unauthenticated", None)
    after = settled_dump(api)
    # The forged secret for a real key counts towards its throttle; nothing else is written.
    key_id = api.huabei["Authorization"].removeprefix("Bearer clk_")[:16]
    assert [row[1] for row in after.pop("auth_failures")] == [f"key:{key_id}"]
    before.pop("auth_failures")
    assert after == before


def test_a_borrower_cannot_see_another_borrower_and_cannot_tell_whether_they_exist(
    api: Api,
) -> None:
    open_lines(api)
    for path in ("lines", "decisions", "notifications"):
        hidden = api.get(f"/borrowers/alice/{path}", api.bob)
        missing = api.get(f"/borrowers/nobody/{path}", api.bob)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json()
    before = settled_dump(api)
    assert _error(api.post("/draws", api.bob, _draw_body(), key="k1"))[:2] == (404, "not_found")
    assert settled_dump(api) == before


def test_a_provider_sees_only_its_own_products(api: Api) -> None:
    open_lines(api)
    lines = api.get("/borrowers/alice/lines", api.huabei).json()
    assert [line["product"] for line in lines] == ["huabei"]
    assert {d["product"] for d in api.get("/borrowers/alice/decisions", api.huabei).json()} == {
        "huabei"
    }
    both = api.get("/borrowers/alice/lines", api.alice).json()
    assert [line["product"] for line in both] == ["huabei", "weilidai"]
    before = settled_dump(api)
    assert _error(api.post("/draws", api.huabei, _draw_body(), key="x"))[:2] == (404, "not_found")
    assert settled_dump(api) == before


def test_a_role_that_may_not_give_a_command_gets_403_and_nothing_is_written(api: Api) -> None:
    before = settled_dump(api)
    verify = {"borrower": "alice", "product": "huabei", "kind": "income_proof"}
    assert _error(api.post("/documents/verification", api.alice, verify))[:2] == (
        403,
        "forbidden",
    )
    assert _error(api.post("/self-queries", api.huabei, {"borrower": "alice"}))[:2] == (
        403,
        "forbidden",
    )
    assert settled_dump(api) == before


def _draw_body(amount: str = "1000.00") -> dict[str, object]:
    return {
        "borrower": "alice",
        "product": "weilidai",
        "amount": amount,
        "term_months": 5,
        "method": "equal_principal",
    }


def _loans(engine: sa.Engine) -> list[tuple[object, ...]]:
    """Alice's Weilidai loans: (id, principal in fen)."""
    line = credit_lines.c
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(loans.c.loan_id, loans.c.principal_fen)
                .join(credit_lines, line.credit_line_id == loans.c.credit_line_id)
                .where(line.borrower_id == "alice", line.product == "weilidai")
            )
        ]


def test_money_moves_once_per_idempotency_key(api: Api) -> None:
    open_lines(api)
    before = settled_dump(api)
    missing = api.post("/draws", api.alice, _draw_body())
    assert _error(missing) == (400, "invalid_input", "Idempotency-Key")
    assert settled_dump(api) == before

    first = api.post("/draws", api.alice, _draw_body(), key="draw-1")
    assert first.status_code == 200, first.text
    assert first.json()["ok"] is True and "Idempotent-Replayed" not in first.headers
    assert [principal for _, principal in _loans(api.engine)] == [100_000]

    again = api.post("/draws", api.alice, _draw_body(), key="draw-1")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [principal for _, principal in _loans(api.engine)] == [100_000]

    after_first = settled_dump(api)
    conflict = api.post("/draws", api.alice, _draw_body("2000.00"), key="draw-1")
    assert _error(conflict)[:2] == (409, "idempotency_conflict")
    assert settled_dump(api) == after_first


def test_an_idempotency_key_belongs_to_its_caller(api: Api) -> None:
    """The same key from the borrower and from the provider are two requests."""
    open_lines(api)
    mine = api.post("/draws", api.alice, _draw_body(), key="same")
    theirs = api.post("/draws", api.weilidai, _draw_body(), key="same")
    assert mine.status_code == theirs.status_code == 200
    assert "Idempotent-Replayed" not in theirs.headers
    assert len(_loans(api.engine)) == 2
    with api.engine.connect() as conn:
        keys = conn.execute(sa.select(idempotency_keys.c.key)).scalars().all()
    assert len(set(keys)) == 2 and all(k.endswith(":same") for k in keys)


def test_bad_input_names_the_field_and_writes_nothing(api: Api) -> None:
    open_lines(api)
    before = settled_dump(api)
    cases = [
        (_draw_body() | {"amount": 10.5}, "amount"),
        (_draw_body() | {"amount": "-3.00"}, "amount"),
        (_draw_body() | {"term_months": "soon"}, "term_months"),
        (_draw_body() | {"colour": "red"}, "colour"),
        ({k: v for k, v in _draw_body().items() if k != "product"}, "product"),
    ]
    for number, (body, field) in enumerate(cases):
        answer = api.post("/draws", api.alice, body, key=f"bad-{number}")
        assert _error(answer) == (400, "invalid_input", field), (body, answer.json())
        assert field in answer.json()["error"]["message"]
    repay = {"borrower": "alice", "product": "weilidai", "amount": "all", "key": "inline"}
    assert _error(api.post("/repayments", api.alice, repay, key="r"))[:3] == (
        400,
        "invalid_input",
        "key",
    )
    assert settled_dump(api) == before


def test_a_refused_draw_is_an_answer_with_its_reason_and_a_stored_decision(api: Api) -> None:
    open_lines(api)
    with api.engine.connect() as conn:
        limit = conn.execute(
            sa.select(credit_lines.c.limit_fen).where(
                credit_lines.c.borrower_id == "alice", credit_lines.c.product == "weilidai"
            )
        ).scalar_one()
    too_much = f"{(limit + 100) // 100}.00"
    answer = api.post("/draws", api.alice, _draw_body(too_much), key="big")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is False and body["code"] and body["reason"]
    decisions = api.get("/borrowers/alice/decisions", api.alice).json()
    assert decisions[0]["decision_id"] == body["authorisation"]
    assert decisions[0]["outcome"] == "refused"
    assert _loans(api.engine) == []


def test_every_write_is_in_the_audit_log_with_who_and_from_where(api: Api) -> None:
    open_lines(api)
    api.post("/draws", api.weilidai, _draw_body(), key="d")
    api.post("/draws", api.weilidai, _draw_body(), key="d")  # a replay writes nothing new
    with api.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT actor, role, action, target, source FROM audit_log ORDER BY seq")
        ).all()
        check = audit.verify(conn)
    assert [tuple(r)[1:4] for r in rows] == [
        ("borrower", "apply", "borrower:alice"),
        ("borrower", "apply", "borrower:alice"),
        ("provider", "draw", "borrower:alice"),
    ]
    assert rows[0][0] == "alice" and rows[2][0] != "alice"
    assert all(r[4] == "testclient" for r in rows)
    assert check.ok and check.entries == 3


def test_a_server_process_keeps_a_connection_open_for_every_request_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections lent beyond the pool's size are closed on return; on PostgreSQL each
    new one is a new backend, so a busy server must not lend beyond it."""
    monkeypatch.setenv("CROSSLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'pool.db'}")
    monkeypatch.setenv(KEY_VARIABLE, generate_key())
    engine = from_environment().state.engine
    busy = REQUEST_THREADS + BACKGROUND_CONNECTIONS
    lent = [engine.connect() for _ in range(busy)]
    for conn in lent:
        conn.close()
    assert engine.pool.checkedin() == busy  # type: ignore[attr-defined]
    engine.dispose()


def test_the_openapi_document_lists_every_endpoint(api: Api) -> None:
    spec = api.client.get("/v1/openapi.json").json()
    paths = set(spec["paths"])
    expected = {
        "/v1/applications",
        "/v1/documents",
        "/v1/documents/verification",
        "/v1/draws",
        "/v1/purchases",
        "/v1/repayments",
        "/v1/conversions",
        "/v1/self-queries",
        "/v1/disputes",
        "/v1/disputes/answers",
        "/v1/explanations",
        "/v1/borrowers/{borrower_id}/lines",
        "/v1/borrowers/{borrower_id}/decisions",
        "/v1/borrowers/{borrower_id}/notifications",
        "/v1/borrowers/{borrower_id}/scores",
        "/v1/business-date",
        "/v1/borrowers",
        "/v1/borrowers/{borrower_id}",
        "/v1/credit-reports",
        "/v1/sessions",
        "/v1/whatif",
    }
    assert expected <= paths
    assert api.get("/business-date", api.alice).json() == {
        "business_date": START.isoformat(),
        "closing": False,
    }


def _inquiries(engine: sa.Engine) -> list[tuple[object, ...]]:
    q = bureau_inquiries.c
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(q.borrower_id, q.inquirer, q.reason).order_by(q.inquiry_id)
            )
        ]


def test_a_provider_sees_a_report_only_by_a_pull_with_a_reason_recorded_as_an_inquiry(
    api: Api,
) -> None:
    before = settled_dump(api)
    without = api.post("/credit-reports", api.weilidai, {"borrower": "alice"})
    assert _error(without) == (400, "invalid_input", "reason")
    as_self = api.post(
        "/credit-reports", api.weilidai, {"borrower": "alice", "reason": "self_query"}
    )
    assert _error(as_self) == (400, "invalid_input", "reason")
    assert settled_dump(api) == before

    pulled = api.post(
        "/credit-reports", api.weilidai, {"borrower": "alice", "reason": "loan_approval"}
    )
    assert pulled.status_code == 200, pulled.text
    assert pulled.json()["report"]["borrower_id"] == "alice"
    assert _inquiries(api.engine) == [("alice", "webank", "loan_approval")]


def test_a_borrower_pulls_only_their_own_report_as_a_self_query(api: Api) -> None:
    mine = api.post("/credit-reports", api.alice, {"borrower": "alice", "reason": "self_query"})
    assert mine.status_code == 200, mine.text
    assert mine.json()["inquiry"]["charged"] is False
    before = settled_dump(api)
    theirs = api.post("/credit-reports", api.bob, {"borrower": "alice", "reason": "self_query"})
    assert _error(theirs)[:2] == (404, "not_found")
    lender = api.post(
        "/credit-reports", api.alice, {"borrower": "alice", "reason": "loan_approval"}
    )
    assert _error(lender) == (400, "invalid_input", "reason")
    assert settled_dump(api) == before
    assert _inquiries(api.engine) == [("alice", "self", "self_query")]


def test_a_session_opens_with_the_right_password_only_and_closes_at_once(api: Api) -> None:
    wrong = api.client.post("/v1/sessions", json={"login": "alice", "password": "nope-nope-1"})
    unknown = api.client.post("/v1/sessions", json={"login": "zed", "password": "nope-nope-1"})
    assert _error(wrong) == _error(unknown) == (401, "invalid_credentials", None)
    assert wrong.json() == unknown.json()

    opened = api.client.post("/v1/sessions", json={"login": "bob", "password": PASSWORD})
    assert opened.status_code == 200, opened.text
    session = bearer(opened.json()["token"])
    assert api.get("/borrowers/bob/lines", session).status_code == 200
    assert api.client.delete("/v1/sessions", headers=session).status_code == 204
    assert _error(api.get("/borrowers/bob/lines", session))[:2] == (401, "unauthenticated")
    with api.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action, target FROM audit_log ORDER BY seq")).all()
    assert [tuple(a) for a in actions] == [
        ("log_in_refused", "user:alice"),
        ("log_in_refused", "user:zed"),
        ("log_in", "user:bob"),
        ("log_out", "user:bob"),
    ]


def test_guessing_a_password_is_429_with_retry_after_and_audited(api: Api) -> None:
    guess = {"login": "alice", "password": "guess-guess-1"}
    for _ in range(MAX_FAILURES):
        assert _error(api.client.post("/v1/sessions", json=guess))[0] == 401
    right = api.client.post("/v1/sessions", json={"login": "alice", "password": PASSWORD})
    assert _error(right) == (429, "too_many_attempts", None)
    assert 0 < int(right.headers["Retry-After"]) <= WINDOW.total_seconds()
    # Another login is not held back by alice's guesses.
    assert api.client.post("/v1/sessions", json={"login": "bob", "password": PASSWORD}).is_success
    with api.engine.connect() as conn:
        actions = conn.execute(sa.text("SELECT action FROM audit_log ORDER BY seq")).scalars()
        assert list(actions) == [
            *["log_in_refused"] * MAX_FAILURES,
            "log_in_throttled",
            "log_in",
        ]


def test_wrong_secrets_for_a_provider_key_are_429_once_past_the_limit(api: Api) -> None:
    token = api.huabei["Authorization"].removeprefix("Bearer ")
    wrong = bearer(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    for _ in range(MAX_FAILURES):
        assert _error(api.get("/borrowers/alice/lines", wrong))[:2] == (401, "unauthenticated")
    assert _error(api.get("/borrowers/alice/lines", wrong))[:2] == (429, "too_many_attempts")


# GB 11643's own worked example, and a second valid number (check digits verified by hand).
NATIONAL_ID = "11010519491231002X"
OTHER_NATIONAL_ID = "440524188001010014"


def _carol(national_id: str = NATIONAL_ID, **changes: str) -> dict[str, str]:
    return {
        "borrower": "carol",
        "monthly_income": "12000.00",
        "name": "Wang Carol",
        "national_id": national_id,
        "phone": "13800138000",
    } | changes


def test_a_provider_registers_a_borrower_whose_identity_is_stored_sealed(api: Api) -> None:
    registered = api.post("/borrowers", api.weilidai, _carol())
    assert registered.status_code == 200, registered.text
    assert registered.json() == {"borrower": "carol", "national_id": "110105********002X"}
    profile = api.get("/borrowers/carol", api.weilidai).json()
    assert (profile["name"], profile["national_id"], profile["phone"]) == (
        "Wang Carol",
        "110105********002X",
        "13800138000",
    )
    assert profile["monthly_income"] == "12000.00"
    with api.engine.connect() as conn:
        sealed = conn.execute(sa.text("SELECT * FROM borrower_identities")).all()
        audit_rows = conn.execute(sa.text("SELECT * FROM audit_log")).all()
    assert len(sealed) == 1
    for text in (repr(sealed), repr(audit_rows)):
        assert NATIONAL_ID not in text and "13800138000" not in text and "Wang" not in text
    assert _error(api.get("/borrowers/carol", api.alice))[:2] == (404, "not_found")


def test_registering_refuses_bad_identities_and_duplicates_and_writes_nothing(
    api: Api,
) -> None:
    assert api.post("/borrowers", api.weilidai, _carol()).status_code == 200
    before = settled_dump(api)
    cases = [
        (_carol(borrower="dave", national_id=NATIONAL_ID), 400, "national_id"),
        (_carol(borrower="dave", national_id="110105194912310021"), 400, "national_id"),
        (_carol(borrower="dave", national_id=OTHER_NATIONAL_ID, phone="12345"), 400, "phone"),
        (
            _carol(borrower="dave", national_id=OTHER_NATIONAL_ID, monthly_income="-1"),
            400,
            "monthly_income",
        ),
        (_carol(national_id=OTHER_NATIONAL_ID), 409, None),
    ]
    for body, status, field in cases:
        answer = api.post("/borrowers", api.weilidai, body)
        assert answer.status_code == status, (body, answer.json())
        assert answer.json()["error"]["field"] == field, answer.json()
    assert _error(api.post("/borrowers", api.alice, _carol(borrower="erin")))[:2] == (
        403,
        "forbidden",
    )
    assert settled_dump(api) == before


def test_the_server_logs_mask_national_ids(capsys: pytest.CaptureFixture[str]) -> None:
    config = log_config()
    logging.config.dictConfig(config)
    try:
        logging.getLogger("crossline.api").warning("lookup for %s failed", NATIONAL_ID)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", f"/x?id={NATIONAL_ID}", "1.1", 200
        )
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    written = capsys.readouterr()
    text = written.out + written.err
    assert "lookup for [national id] failed" in text and "/x?id=[national id]" in text
    assert NATIONAL_ID not in text
    assert "Logging error" not in text, "a formatter could not read the masked record"


def test_lines_show_loans_schedules_and_what_is_owed_as_the_book_holds_them(api: Api) -> None:
    open_lines(api)
    assert api.post("/draws", api.alice, _draw_body("1000.00"), key="d").status_code == 200
    (weilidai,) = api.get("/borrowers/alice/lines", api.weilidai).json()
    (loan,) = weilidai["loans"]
    # 1000.00 over five months, equal principal: 200.00 a month.
    assert [row["principal"] for row in loan["schedule"]] == ["200.00"] * 5
    assert weilidai["outstanding"]["principal"] == "1000.00"
    limit = int(weilidai["limit"].replace(".", ""))
    assert weilidai["available"] == f"{(limit - 100_000) // 100}.{(limit - 100_000) % 100:02d}"
    settle(api)
    with api.engine.connect() as conn:
        today = START
        whole = snapshot(conn, today)["borrowers"]["alice"]
        alone = snapshot(conn, today, "alice")["borrowers"]["alice"]
    assert alone == whole, "one borrower's snapshot is their part of the whole book's"


def test_scores_show_every_group_to_the_borrower_and_its_own_to_a_provider(api: Api) -> None:
    open_lines(api)
    settle(api)  # the scores are the outbox worker's, written after the commands
    mine = api.get("/borrowers/alice/scores", api.alice).json()
    assert set(mine) == {"ant", "webank", "lexin"}
    assert all(350 <= view["score"] <= 950 and view["band"] for view in mine.values())
    assert api.get("/borrowers/alice/scores", api.weilidai).json() == {"webank": mine["webank"]}


def test_a_second_outbox_runner_leaves_alone_a_batch_another_holds(api: Api) -> None:
    """The server's worker and any other process share one outbox: on PostgreSQL the
    runner that holds the advisory lock handles the batch and the others skip it."""
    open_lines(api)
    settle(api)
    engine = api.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as other:
            other.execute(sa.select(sa.func.pg_advisory_xact_lock(HANDLER_LOCK)))
            answer = api.post(
                "/applications", api.alice, {"borrower": "alice", "product": "jiebei"}
            )
            assert answer.status_code == 200
            time.sleep(0.5)  # five of the worker's rounds
            assert handle_pending(engine) == 0
            with engine.connect() as conn:
                pending = conn.execute(
                    sa.select(sa.func.count()).where(outbox.c.handled.is_(False))
                ).scalar_one()
            assert pending > 0, "a runner handled a batch another held"
    settle(api)


def test_a_what_if_projects_the_borrower_s_lines_and_writes_nothing(api: Api) -> None:
    open_lines(api)
    purchase = {"borrower": "alice", "product": "huabei", "amount": "1000.00"}
    assert api.post("/purchases", api.alice, purchase, key="p").json()["ok"] is True
    before = settled_dump(api)
    # Nothing paid for 60 days: the first Huabei bill falls due and goes unpaid.
    answer = api.post("/whatif", api.alice, {"borrower": "alice", "days": 60})
    assert answer.status_code == 200, answer.text
    projection = answer.json()
    assert len(projection["daily"]) == 1 + 60, "today as it stands, then each projected day"
    paused = [
        c
        for c in projection["changes"]
        if c["what"] == "line" and c["product"] == "huabei" and c["status"] == "paused"
    ]
    assert paused, projection["changes"]
    # Paying everything the day after the purchase keeps Huabei open throughout.
    tomorrow = date.fromordinal(START.toordinal() + 1).isoformat()
    repaid = api.post(
        "/whatif",
        api.alice,
        {
            "borrower": "alice",
            "days": 60,
            "steps": [{"date": tomorrow, "repay": {"product": "huabei", "amount": "all"}}],
        },
    ).json()
    assert not [
        c
        for c in repaid["changes"]
        if c["what"] == "line" and c["product"] == "huabei" and c["status"] != "active"
    ]
    assert settled_dump(api) == before


def test_a_what_if_is_the_borrower_s_or_console_staff_s_and_names_bad_fields(api: Api) -> None:
    open_lines(api)
    before = settled_dump(api)
    assert _error(api.post("/whatif", api.bob, {"borrower": "alice", "days": 5}))[:2] == (
        404,
        "not_found",
    )
    assert _error(api.post("/whatif", api.weilidai, {"borrower": "alice", "days": 5}))[:2] == (
        403,
        "forbidden",
    )
    assert _error(api.post("/whatif", api.alice, {"borrower": "alice", "days": 0})) == (
        400,
        "invalid_input",
        "days",
    )
    late = {"date": "2027-01-01", "repay": {"product": "huabei", "amount": "all"}}
    outside = api.post("/whatif", api.alice, {"borrower": "alice", "days": 5, "steps": [late]})
    assert _error(outside) == (400, "invalid_input", "steps")
    assert "outside" in outside.json()["error"]["message"]
    assert settled_dump(api) == before


def test_an_amount_too_large_to_store_is_bad_input(api: Api) -> None:
    before = settled_dump(api)
    huge = _carol(monthly_income="1" + "0" * 30)
    assert _error(api.post("/borrowers", api.weilidai, huge)) == (
        400,
        "invalid_input",
        "monthly_income",
    )
    draw = _draw_body("9" * 25)
    assert _error(api.post("/draws", api.alice, draw, key="huge"))[:3] == (
        400,
        "invalid_input",
        "amount",
    )
    assert settled_dump(api) == before


def test_serve_refuses_several_processes_on_sqlite(tmp_path: Path) -> None:
    book = f"sqlite:///{tmp_path / 'book.db'}"
    assert (
        CliRunner().invoke(app, ["init", "--start", "2026-03-02", "--database", book]).exit_code
        == 0
    )
    # Rows, not file bytes: SQLite may checkpoint its write-ahead log whenever the
    # last connection closes, which rewrites pages without changing a row.
    engine = make_engine(book)
    before = dump(engine)
    refused = CliRunner().invoke(app, ["serve", "--database", book, "--workers", "2"])
    assert refused.exit_code == 2
    assert "workers" in refused.output
    assert dump(engine) == before
    engine.dispose()


def test_text_no_column_can_hold_is_bad_input_naming_where(api: Api) -> None:
    """PostgreSQL's text columns cannot hold NUL, and a lone surrogate is not UTF-8: the
    API refuses both at the door."""
    before = settled_dump(api)
    cases = [
        (api.client.post("/v1/sessions", json={"login": "\x00", "password": "x"}), "login"),
        (api.post("/borrowers", api.weilidai, _carol(name="Wang\x00")), "name"),
        (
            api.post(
                "/whatif",
                api.alice,
                {
                    "borrower": "alice",
                    "days": 3,
                    "steps": [
                        {"date": "2026-03-03", "repay": {"product": "hua\x00bei", "amount": "all"}}
                    ],
                },
            ),
            "steps.0.repay.product",
        ),
        (api.get("/borrowers/al%00ice/lines", api.alice), "path"),
        (api.client.get("/v1/business-date?when=%00", headers=api.alice), "when"),
        (
            api.client.post(
                "/v1/sessions",
                content=b'{"login": "\\ud800", "password": "x"}',
                headers={"content-type": "application/json"},
            ),
            "login",
        ),
    ]
    for response, field in cases:
        assert _error(response) == (400, "invalid_input", field), response.json()
    assert settled_dump(api) == before


def test_a_server_process_works_on_as_many_requests_at_once_as_it_has_connections(
    engine: sa.Engine,
) -> None:
    app = create_app(engine, PiiCipher(os.urandom(32)), handle_events=False, request_threads=3)
    with TestClient(app) as client:
        bound = client.portal.call(lambda: to_thread.current_default_thread_limiter().total_tokens)  # type: ignore[union-attr]
    assert bound == 3
