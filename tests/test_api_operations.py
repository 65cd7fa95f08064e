"""The operations endpoints: end-of-day, the ledger check, policies and the scorecard.

Each test drives the app in process over a real database on each backend. What an
endpoint answers is checked against the rows it wrote, against what the CLI prints
for the same book, or against the shipped files, never against itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crossline.api import create_app
from crossline.api.routes import operations
from crossline.catalog import load_catalog
from crossline.cli import app as cli
from crossline.decisions.applications import apply
from crossline.decisions.authorisation import authorised_draw
from crossline.decisions.policies import policies_in_force
from crossline.events.handlers import handle_pending
from crossline.ledger.accounts import RECEIVABLE_BY_COMPONENT
from crossline.ledger.check import check_ledger
from crossline.scoring.scorecard import DEFAULT_SCORECARD
from crossline.security import audit, create_api_key, create_user, log_in
from crossline.security.pii import PiiCipher
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store import platform
from crossline.store.schema import bureau_inquiries, decisions, installments, journal, policies
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.conftest import initialise
from tests.helpers import dump
from tests.test_applications import small_policy

START = date(2026, 3, 2)


@dataclass(frozen=True)
class Ops:
    """The app, its engine and a bearer header for each caller."""

    client: TestClient
    engine: sa.Engine
    operator: dict[str, str]
    admin: dict[str, str]
    webank_admin: dict[str, str]
    borrower: dict[str, str]
    provider: dict[str, str]

    def post(self, path: str, who: dict[str, str], body: object) -> Any:
        return self.client.post(f"/v1/operations{path}", json=body, headers=who)

    def post_text(self, path: str, who: dict[str, str], text: bytes) -> Any:
        headers = who | {"Content-Type": "application/json"}
        return self.client.post(f"/v1/operations{path}", content=text, headers=headers)

    def get(self, path: str, who: dict[str, str]) -> Any:
        return self.client.get(f"/v1/operations{path}", headers=who)


@pytest.fixture
def ops(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ops]:
    cheap_secret_hashing(monkeypatch)
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "alice", 900_000)
        create_user(conn, "alice", PASSWORD, "borrower", borrower_id="alice")
        create_user(conn, "olga", PASSWORD, "operator", lender_group="ant")
        create_user(conn, "rita", PASSWORD, "risk_admin", lender_group="ant")
        create_user(conn, "wen", PASSWORD, "risk_admin", lender_group="webank")
        huabei = create_api_key(conn, "huabei", load_catalog("default"))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        tokens = {login: log_in(conn, login, PASSWORD, now) for login in ("olga", "rita", "wen")}
        alice = log_in(conn, "alice", PASSWORD, now)
    # No outbox worker: these tests compare tables around requests, and the close's
    # events handled in the background would race the comparison.
    app = create_app(engine, PiiCipher(os.urandom(32)), handle_events=False)
    with TestClient(app) as client:
        yield Ops(
            client,
            engine,
            operator=bearer(tokens["olga"]),
            admin=bearer(tokens["rita"]),
            webank_admin=bearer(tokens["wen"]),
            borrower=bearer(alice),
            provider=bearer(huabei),
        )


def _error(response: Any) -> tuple[int, str, str | None]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, body["error"]["code"], body["error"].get("field")


def _audit(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT actor, role, action, target, detail FROM audit_log ORDER BY seq")
        ).all()
        assert audit.verify(conn).ok
    # log-ins are audited too; these tests look at what came after
    return [(*r[:4], json.loads(r[4])) for r in rows if r.action != "log_in"]


def _book(engine: sa.Engine) -> int:
    """Alice holds Weilidai and has drawn 1000.00 on it; returns the loan id."""
    with engine.begin() as conn:
        ctx = open_context(conn)
        assert apply(ctx, "alice", "weilidai").status == "approved"
        drawn, loan = authorised_draw(ctx, "alice", "weilidai", 100_000, 5, "equal_principal")
    assert drawn.authorised and loan is not None
    return loan


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _document(policy: dict[str, Any]) -> bytes:
    return json.dumps(policy, indent=1).encode()


# --- end-of-day ---------------------------------------------------------------------------


def test_end_of_day_closes_each_date_through_the_one_given_and_keeps_the_ledger_balanced(
    ops: Ops,
) -> None:
    _book(ops.engine)
    through = START + timedelta(days=2)
    answer = ops.post("/end-of-day", ops.operator, {"through": through.isoformat()})
    assert answer.status_code == 200, answer.text
    closed = [(START + timedelta(days=n)).isoformat() for n in range(3)]
    assert answer.json() == {"closed": closed, "business_date": "2026-03-05"}
    with ops.engine.connect() as conn:
        assert platform.business_date(conn) == date(2026, 3, 5)
        assert check_ledger(conn).balanced
    assert _audit(ops.engine) == [
        ("olga", "operator", "end_of_day", "platform", {"through": "2026-03-04", "closed": closed})
    ]
    # closing through today again closes today only; a risk admin may run it too
    again = ops.post("/end-of-day", ops.admin, {"through": "2026-03-05"})
    assert again.json() == {"closed": ["2026-03-05"], "business_date": "2026-03-06"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"through": "2026-03-01"}, "through"),  # the day before the business date
        ({"through": "2026-02-30"}, "through"),
        ({"through": 1772323200}, "through"),  # a Unix time is not a date
        ({}, "through"),
        ({"through": "2026-03-02", "partitions": 2}, "partitions"),
    ],
)
def test_end_of_day_refuses_bad_input_naming_the_field_and_writes_nothing(
    ops: Ops, body: dict[str, Any], field: str
) -> None:
    _book(ops.engine)
    before = dump(ops.engine)
    assert _error(ops.post("/end-of-day", ops.operator, body)) == (400, "invalid_input", field)
    assert dump(ops.engine) == before


def test_a_second_end_of_day_while_one_runs_is_409_and_writes_nothing(ops: Ops) -> None:
    before = dump(ops.engine)
    with operations._eod_running:  # what a first request holds while it closes the day
        answer = ops.post("/end-of-day", ops.operator, {"through": "2026-03-02"})
    assert _error(answer) == (409, "eod_in_progress", None)
    assert dump(ops.engine) == before
    # and once it is done, end-of-day runs again
    assert ops.post("/end-of-day", ops.operator, {"through": "2026-03-02"}).status_code == 200


# --- ledger check -------------------------------------------------------------------------


def test_the_ledger_check_answers_what_the_cli_prints_and_finds_a_broken_subledger(
    ops: Ops, engine: sa.Engine, database_url: str
) -> None:
    loan = _book(engine)
    ops.post("/end-of-day", ops.operator, {"through": "2026-03-03"})
    answer = ops.get("/ledger-check", ops.operator)
    assert answer.status_code == 200, answer.text
    with engine.connect() as conn:
        entries = conn.execute(sa.select(sa.func.count(sa.distinct(journal.c.entry_id)))).scalar()
    assert answer.json()["balanced"] is True
    assert answer.json()["entries"] == entries > 0
    assert answer.json() == json.loads(_cli("ledger", "check", "--database", database_url))
    # a state table that disagrees with the journal is found, loan and account named
    with engine.begin() as conn:
        first = conn.execute(
            sa.select(sa.func.min(installments.c.installment_id)).where(
                installments.c.loan_id == loan
            )
        ).scalar_one()
        conn.execute(
            sa.update(installments)
            .where(installments.c.installment_id == first)
            .values(paid_principal_fen=installments.c.paid_principal_fen + 1)
        )
    broken = ops.get("/ledger-check", ops.admin).json()
    assert broken["balanced"] is False
    [mismatch] = broken["mismatches"]
    principal = RECEIVABLE_BY_COMPONENT["principal"].value
    assert (mismatch["loan_id"], mismatch["account"]) == (loan, principal)
    assert mismatch["journal_fen"] - mismatch["subledger_fen"] == 1


# --- policies -----------------------------------------------------------------------------


def test_validating_a_policy_lists_its_tables_and_stores_nothing(ops: Ops) -> None:
    before = dump(ops.engine)
    document = _document(small_policy())
    answer = ops.post_text("/policies/validation", ops.operator, document)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["group"], body["version"]) == ("ant", "ant-test-1")
    assert body["digest"] == hashlib.sha256(document).hexdigest()
    # small_policy: a veto table of one row and an offer table of four
    assert [(t["table"].split(" ")[2], t["rows"]) for t in body["tables"]] == [
        ("Veto", 1),
        ("Offer", 4),
    ]
    assert dump(ops.engine) == before


def _bad_tier() -> dict[str, Any]:
    """small_policy with its last offer row at a tier that has no price."""
    policy = small_policy()
    offer = policy["decisions"]["application"]["nodes"][2]
    offer["content"]["rules"][3]["o_tier"] = '"Z"'
    return policy


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (_document(_bad_tier()), "node 'Offer' › row 'offer4' › column 'tier'"),
        (b'{"format": "crossline-policy/1"', "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (_document(small_policy() | {"format": "other/1"}), "format"),
    ],
)
def test_a_bad_policy_is_400_saying_where_and_writes_nothing(
    ops: Ops, document: bytes, where: str
) -> None:
    before = dump(ops.engine)
    for path in ("/policies/validation", "/policies"):
        answer = ops.post_text(path, ops.admin, document)
        assert _error(answer) == (400, "invalid_policy", "policy")
        assert where in answer.json()["error"]["message"]
    assert dump(ops.engine) == before


def test_an_uploaded_then_activated_policy_is_the_one_in_force(
    ops: Ops, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    document = _document(small_policy())
    uploaded = ops.post_text("/policies", ops.admin, document)
    assert uploaded.status_code == 200, uploaded.text
    digest = hashlib.sha256(document).hexdigest()
    assert uploaded.json() == {
        "group": "ant",
        "version": "ant-test-1",
        "digest": digest,
        "role": "draft",
    }
    with engine.connect() as conn:
        stored = conn.execute(sa.select(policies.c.document, policies.c.role)).one()
    assert (stored.document.encode(), stored.role) == (document, "draft")

    activated = ops.post("/policies/ant/ant-test-1/activation", ops.admin, {})
    assert activated.json() == {
        "group": "ant",
        "version": "ant-test-1",
        "role": "champion",
        "share": None,
    }
    ops.post_text("/policies", ops.admin, _document(small_policy("ant-test-2")))
    ops.post("/policies/ant/ant-test-2/activation", ops.admin, {"challenger_share": 30})
    with engine.connect() as conn:
        arms = policies_in_force(conn, "ant", platform.catalog_json(conn))
    assert arms.champion.version == "ant-test-1" and arms.challenger is not None
    assert (arms.challenger.version, arms.share) == ("ant-test-2", 30)
    shown = ops.get("/policies/ant", ops.operator).json()
    assert shown == {
        "group": "ant",
        "champion": {"version": "ant-test-1", "digest": digest},
        "challenger": {
            "version": "ant-test-2",
            "digest": arms.challenger.digest,
            "share": 30,
        },
    }
    # the same bytes again are the stored version, active by now; the CLI agrees
    assert ops.post_text("/policies", ops.admin, document).json()["role"] == "champion"
    file = tmp_path / "policy.json"
    file.write_bytes(document)
    printed = json.loads(_cli("policy", "upload", str(file), "--database", database_url))
    assert printed == uploaded.json() | {"role": "champion"}
    assert [row[2:] for row in _audit(engine)] == [
        ("upload_policy", "policy:ant/ant-test-1", {"digest": digest}),
        ("activate_policy", "policy:ant/ant-test-1", {"role": "champion", "share": None}),
        ("upload_policy", "policy:ant/ant-test-2", {"digest": arms.challenger.digest}),
        ("activate_policy", "policy:ant/ant-test-2", {"role": "challenger", "share": 30}),
        ("upload_policy", "policy:ant/ant-test-1", {"digest": digest}),
    ]
    assert {row[:2] for row in _audit(engine)} == {("rita", "risk_admin")}


def test_the_shipped_policy_is_in_force_until_one_is_activated(ops: Ops) -> None:
    shipped = resources.files("crossline.decisions").joinpath("policies", "ant.json").read_bytes()
    shown = ops.get("/policies/ant", ops.admin).json()
    assert shown["champion"]["digest"] == hashlib.sha256(shipped).hexdigest()
    assert shown["champion"]["version"] == json.loads(shipped)["version"]
    assert shown["challenger"] is None


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/policies/ant/ant-test-1/activation", {"challenger_share": 0}, 400, "challenger_share"),
        ("/policies/ant/ant-test-1/activation", {"challenger_share": 100}, 400, "challenger_share"),
        (
            "/policies/ant/ant-test-1/activation",
            {"challenger_share": "30"},
            400,
            "challenger_share",
        ),
        ("/policies/ant/ant-test-1/activation", {"share": 30}, 400, "share"),
        ("/policies/ant/no-such-version/activation", {}, 404, None),
    ],
)
def test_a_bad_activation_is_refused_and_writes_nothing(
    ops: Ops, path: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    ops.post_text("/policies", ops.admin, _document(small_policy()))
    before = dump(ops.engine)
    assert _error(ops.post(path, ops.admin, body))[::2] == (status, field)
    assert dump(ops.engine) == before


def test_another_document_under_a_stored_version_is_409_and_writes_nothing(ops: Ops) -> None:
    ops.post_text("/policies", ops.admin, _document(small_policy()))
    before = dump(ops.engine)
    changed = small_policy()
    changed["reasons"]["proof"] = "Send us a payslip."
    answer = ops.post_text("/policies", ops.admin, _document(changed))
    assert _error(answer) == (409, "version_exists", None)
    assert dump(ops.engine) == before


def _backtest_book(engine: sa.Engine) -> int:
    """Three ant applications on the business date, decided by the shipped policy;
    returns how many application decisions ant has stored."""
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "bo", 300_000)
        register_borrower(ctx, "cy", 2_000_000)
        for borrower, product in (("alice", "huabei"), ("bo", "jiebei"), ("cy", "huabei")):
            apply(ctx, borrower, product)
        d = decisions.c
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(d.kind == "application", d.lender_group == "ant")
            ).scalar_one()
        )


def test_a_backtest_answers_what_the_cli_prints_and_stores_nothing(
    ops: Ops, engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    stored = _backtest_book(engine)
    before = dump(engine)
    window = {"from": "2026-03-01", "to": "2026-03-02"}
    answer = ops.post("/policies/backtest", ops.operator, {"policy": small_policy()} | window)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert stored == 3
    assert (body["group"], body["from"], body["to"]) == ("ant", "2026-03-01", "2026-03-02")
    assert sum(s["decisions"] for s in body["stored"]) == body["candidate"]["decisions"] == stored
    file = tmp_path / "candidate.json"
    file.write_text(json.dumps(small_policy()))
    args = ["--from", window["from"], "--to", window["to"], "--database", database_url]
    assert body == json.loads(_cli("policy", "backtest", "--policy", str(file), *args))
    assert dump(engine) == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"to": "2026-02-28"}, "invalid_input", "to"),  # ends before it starts
        ({"from": "March"}, "invalid_input", "from"),
        ({"policy": _bad_tier()}, "invalid_policy", "policy"),
        ({"policy": "{}"}, "invalid_input", "policy"),
    ],
)
def test_a_bad_backtest_is_400_naming_the_field(
    ops: Ops, change: dict[str, Any], code: str, field: str
) -> None:
    _backtest_book(ops.engine)
    before = dump(ops.engine)
    body = {"policy": small_policy(), "from": "2026-03-01", "to": "2026-03-02"} | change
    assert _error(ops.post("/policies/backtest", ops.operator, body)) == (400, code, field)
    assert dump(ops.engine) == before


# --- models -------------------------------------------------------------------------------


def test_the_scorecard_in_use_is_the_shipped_one(ops: Ops) -> None:
    shipped = resources.files("crossline.scoring").joinpath(DEFAULT_SCORECARD).read_text()
    answer = ops.get("/models", ops.operator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"scorecard": json.loads(shipped)}


# --- who may do what ----------------------------------------------------------------------

EVERY_ENDPOINT: list[tuple[str, str, object]] = [
    ("POST", "/end-of-day", {"through": "2026-03-02"}),
    ("GET", "/ledger-check", None),
    ("POST", "/policies/validation", small_policy()),
    ("POST", "/policies", small_policy()),
    ("POST", "/policies/ant/ant-test-1/activation", {}),
    ("GET", "/policies/ant", None),
    (
        "POST",
        "/policies/backtest",
        {"policy": small_policy(), "from": "2026-03-01", "to": "2026-03-02"},
    ),
    ("GET", "/models", None),
]


def _call(ops: Ops, who: dict[str, str], method: str, path: str, body: object) -> Any:
    return ops.post(path, who, body) if method == "POST" else ops.get(path, who)


def test_borrowers_and_providers_may_use_no_operations_endpoint(ops: Ops) -> None:
    ops.post_text("/policies", ops.admin, _document(small_policy()))
    before = dump(ops.engine)
    for who in (ops.borrower, ops.provider):
        for method, path, body in EVERY_ENDPOINT:
            assert _error(_call(ops, who, method, path, body)) == (403, "forbidden", None), path
    for method, path, body in EVERY_ENDPOINT:
        assert _error(_call(ops, {}, method, path, body))[0] == 401, path
    assert dump(ops.engine) == before


def test_an_operator_may_not_change_policies(ops: Ops) -> None:
    ops.post_text("/policies", ops.admin, _document(small_policy()))
    before = dump(ops.engine)
    upload = ops.post_text("/policies", ops.operator, _document(small_policy("ant-test-2")))
    assert _error(upload) == (403, "forbidden", None)
    activation = ops.post("/policies/ant/ant-test-1/activation", ops.operator, {})
    assert _error(activation) == (403, "forbidden", None)
    assert dump(ops.engine) == before


def test_staff_may_not_use_another_lender_groups_policies(ops: Ops) -> None:
    _backtest_book(ops.engine)
    ops.post_text("/policies", ops.admin, _document(small_policy()))
    before = dump(ops.engine)
    for method, path, body in EVERY_ENDPOINT[2:7]:
        assert _error(_call(ops, ops.webank_admin, method, path, body)) == (
            403,
            "forbidden",
            None,
        ), path
    assert dump(ops.engine) == before
    # the webank admin still runs the platform-wide endpoints
    assert ops.get("/ledger-check", ops.webank_admin).status_code == 200
    assert ops.get("/models", ops.webank_admin).status_code == 200


def test_console_staff_see_and_act_on_their_own_group_s_products_only(ops: Ops) -> None:
    """Alice's Weilidai is webank's: ant's risk admin sees none of it (not its live line,
    its decisions or webank's score), cannot answer for it, and a projection shows ant's
    side only; webank's risk admin sees it all."""
    _book(ops.engine)
    assert handle_pending(ops.engine) > 0  # the events score alice in the groups they touch
    ant, webank = ops.admin, ops.webank_admin

    def read(path: str, who: dict[str, str]) -> Any:
        answer = ops.client.get(f"/v1/borrowers/alice{path}", headers=who)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert read("/lines", ant) == []
    assert [line["product"] for line in read("/lines", webank)] == ["weilidai"]
    assert set(read("/scores", ant)) <= {"ant"}
    assert set(read("/scores", webank)) == {"webank"}
    assert read("/decisions", ant) == []
    assert {d["lender_group"] for d in read("/decisions", webank)} == {"webank"}
    before = dump(ops.engine)
    answer = {
        "borrower": "alice",
        "product": "weilidai",
        "month": "2026-02",
        "outcome": "confirmed",
    }
    refused = ops.client.post("/v1/disputes/answers", json=answer, headers=ant)
    assert _error(refused)[:2] == (404, "not_found")
    assert dump(ops.engine) == before
    projected = ops.client.post(
        "/v1/whatif", json={"borrower": "alice", "days": 3}, headers=ant
    ).json()
    for day in projected["daily"]:
        assert set(day["scores"]) <= {"ant"} and "weilidai" not in day["lines"]
    seen_by_webank = ops.client.post(
        "/v1/whatif", json={"borrower": "alice", "days": 3}, headers=webank
    ).json()
    assert all("weilidai" in day["lines"] for day in seen_by_webank["daily"])


def test_staff_pull_a_report_only_with_a_lender_s_reason_recorded_under_their_group(
    ops: Ops,
) -> None:
    def inquiries() -> list[tuple[object, ...]]:
        q = bureau_inquiries.c
        with ops.engine.connect() as conn:
            rows = conn.execute(sa.select(q.inquirer, q.reason, q.hard).order_by(q.inquiry_id))
            return [tuple(row) for row in rows]

    pull = "/v1/credit-reports"
    own = ops.client.post(
        pull, json={"borrower": "alice", "reason": "self_query"}, headers=ops.operator
    )
    assert (own.status_code, own.json()["error"]["field"]) == (400, "reason")
    assert inquiries() == []
    managed = {"borrower": "alice", "reason": "post_loan_management"}
    assert ops.client.post(pull, json=managed, headers=ops.webank_admin).status_code == 200
    assert ops.client.post(pull, json=managed, headers=ops.operator).status_code == 200
    assert inquiries() == [
        ("webank", "post_loan_management", False),
        ("ant", "post_loan_management", False),
    ]
