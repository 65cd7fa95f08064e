"""Waivers, settlement and write-off recoveries (issue 7), on both backends.

Expected money is worked out by hand in each test from the conventions (DOMAIN §2):
Weilidai 6000.00 equal principal over 5 months at 0.0004 a day from 03-01, first
installment due 04-01 with principal 1200.00 and interest 6000 × 0.0004 × 31 = 74.40;
penalty 1200 × 0.0004 × 1.5 = 0.72 a day from the end-of-day of 04-02.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.catalog import catalog_from_json, catalog_to_json, load_catalog
from crossline.decisions.authorisation import authorised_draw
from crossline.eod.runner import run_eod
from crossline.events.templates import render
from crossline.ledger.check import check_ledger
from crossline.security import create_user, log_in
from crossline.security.pii import PiiCipher
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.servicing.purchases import purchase
from crossline.servicing.repayment import repay
from crossline.servicing.settlement import settle
from crossline.servicing.waivers import waive
from crossline.store import platform
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.conftest import initialise
from tests.helpers import dump, line_of, run_example, run_yaml

START = date(2026, 3, 1)


def _scalar(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _account(engine: sa.Engine, account: str) -> int:
    return int(
        _scalar(
            engine, f"SELECT COALESCE(SUM(amount_fen), 0) FROM journal WHERE account = '{account}'"
        )
    )


def _balanced(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return check_ledger(conn).balanced


def _weilidai(engine: sa.Engine, waterfall: list[str] | None = None) -> None:
    """Bob's 6000.00 Weilidai loan of 03-01, unpaid through the end-of-day of 04-09."""
    catalog = load_catalog("default")
    if waterfall is not None:
        data = json.loads(catalog_to_json(catalog))
        for product in data["products"]:
            if product["id"] == "weilidai":
                product["waterfall"] = waterfall
        catalog = catalog_from_json(json.dumps(data))
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=START, catalog_json=catalog_to_json(catalog), partitions=1
        )
        ctx = open_context(conn)
        register_borrower(ctx, "bob", 900000)
        open_line(ctx, "bob", "weilidai", 3000000, Decimal("0.0004"))
        draw(ctx, "bob", "weilidai", 600000, 5, "equal_principal")
    run_eod(engine, date(2026, 4, 9))


def _line_dpd(engine: sa.Engine) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT dpd, pboc_status FROM credit_lines")).one()
    return int(row[0]), str(row[1])


def _amy_on_huabei(engine: sa.Engine, steps_and_end: str) -> dict[str, Any]:
    """Run a scenario for Amy (6000.00 a month) with a 5000.00 Huabei line opened on
    2026-03-03; ``steps_and_end`` holds the steps after that and the ``end:`` line."""
    return run_yaml(
        engine,
        """\
start: 2026-03-03
borrowers: [{id: amy, monthly_income: "6000.00"}]
steps:
  - {date: 2026-03-03, open_line: {borrower: amy, product: huabei, limit: "5000.00"}}
"""
        + steps_and_end,
    )


# --- waivers -------------------------------------------------------------------------------


def test_example_waiver_balances_the_ledger(engine: sa.Engine) -> None:
    outcome = run_example(engine, "waiver_balances_ledger")
    overdue = line_of(outcome["snapshots"]["overdue"], "bob", "weilidai")
    # 8 end-of-days (04-02 .. 04-09) of 0.72.
    assert overdue["outstanding"]["penalty"] == "5.76"
    assert overdue["dpd"] == 9 - 1
    waived = next(e for e in outcome["events"] if e["type"] == "waive")
    assert (waived["ok"], waived["component"], waived["amount"]) == (True, "penalty", "5.76")
    after = line_of(outcome["snapshots"]["after_waiver"], "bob", "weilidai")
    assert after["outstanding"] == {
        "principal": "4800.00",
        "interest": "0.00",
        "penalty": "0.00",
        "fees": "0.00",
    }
    assert (after["dpd"], after["pboc_status"]) == (0, "N")
    assert any(e["type"] == "cured" and e["date"] == "2026-04-10" for e in outcome["events"])
    assert outcome["ledger"]["balanced"]
    assert _account(engine, "waiver_expense") == 576
    with engine.connect() as conn:
        record = conn.execute(
            sa.text("SELECT component, amount_fen, reason, granted_by, business_date FROM waivers")
        ).one()
        kinds = [r[0] for r in conn.execute(sa.text("SELECT kind FROM notifications"))]
    assert tuple(record[:4]) == ("penalty", 576, "hospital stay, documented", "risk-li")
    assert str(record[4]) == "2026-04-10"
    assert "waiver_granted" in kinds


def test_a_waiver_that_clears_the_last_overdue_amount_cures_the_line(engine: sa.Engine) -> None:
    # Principal first: 1274.40 pays principal and interest and leaves the 5.76 penalty.
    _weilidai(engine, waterfall=["principal", "interest", "fee", "penalty"])
    with engine.begin() as conn:
        repay(open_context(conn), "bob", "weilidai", 127440)
    assert _line_dpd(engine) == (9, "1")
    with engine.begin() as conn:
        answer = waive(open_context(conn), "bob", "weilidai", "penalty", "all", "goodwill", "li")
    assert answer["amount"] == "5.76"
    assert _line_dpd(engine) == (0, "N")
    assert _scalar(engine, "SELECT status FROM installments WHERE seq = 1") == "paid"
    assert _balanced(engine)


def test_a_partial_interest_waiver_lowers_the_oldest_row_only(engine: sa.Engine) -> None:
    _weilidai(engine)
    with engine.begin() as conn:
        waive(open_context(conn), "bob", "weilidai", "interest", 1000, "complaint upheld", "li")
    assert _balanced(engine)
    # Due now: penalty 5.76 + interest 74.40 − 10.00 + principal 1200.00 = 1270.16.
    with engine.begin() as conn:
        paid = repay(open_context(conn), "bob", "weilidai", "all_due")
    assert paid.amount_fen == 576 + 7440 - 1000 + 120000
    assert _line_dpd(engine) == (0, "N")
    # The next due date recognises installment 2's own interest, not the waived 10.00
    # again: 4800 × 0.0004 × 30 = 57.60 (04-01 .. 05-01).
    run_eod(engine, date(2026, 5, 1))
    assert _account(engine, "interest_income") == -(7440 + 5760)
    assert _account(engine, "waiver_expense") == 1000
    assert _balanced(engine)


@pytest.mark.parametrize(
    ("component", "amount", "reason", "error", "match"),
    [
        ("penalty", 577, "goodwill", RefusedError, r"^amount: 5\.77 exceeds the penalty owed"),
        ("penalty", "all", "   ", InputError, r"^reason: a waiver needs a reason"),
        ("principal", "all", "goodwill", RefusedError, "principal cannot be waived"),
        ("late_fee", "all", "goodwill", InputError, r"^component: expected one of"),
        ("fee", "all", "goodwill", RefusedError, "no fee is owed"),
    ],
)
def test_a_refused_waiver_leaves_the_database_unchanged(
    engine: sa.Engine,
    component: str,
    amount: int | str,
    reason: str,
    error: type[Exception],
    match: str,
) -> None:
    _weilidai(engine)
    before = dump(engine)
    with pytest.raises(error, match=match), engine.begin() as conn:
        waive(open_context(conn), "bob", "weilidai", component, amount, reason, "li")  # type: ignore[arg-type]
    assert dump(engine) == before


def test_a_huabei_overdue_fee_is_waived_and_the_minimum_then_goes_to_principal(
    engine: sa.Engine,
) -> None:
    outcome = _amy_on_huabei(
        engine,
        """\
  - {date: 2026-03-05, purchase: {borrower: amy, product: huabei, amount: "1000.00"}}
  - {date: 2026-04-30, snapshot: overdue}
  - date: 2026-04-30
    waive: {borrower: amy, product: huabei, component: penalty, amount: all,
            reason: "hospital stay", by: risk-li}
  - {date: 2026-04-30, snapshot: waived}
  - {date: 2026-04-30, repay: {borrower: amy, product: huabei, amount: "100.00"}}
  - {date: 2026-04-30, snapshot: paid}
end: 2026-04-30
""",
    )
    # Statement of 04-01: 1000.00, minimum 100.00, due 04-10, unpaid: 19 days late at the
    # 04-29 close. The overdue fee, 1000.00 x 0.0005 = 0.50 a day, is held through the
    # 3-day grace, then posted, for the closes of 04-11 .. 04-29 (the 04-30 close has
    # not run): 19 x 0.50 = 9.50.
    overdue = line_of(outcome["snapshots"]["overdue"], "amy", "huabei")
    assert (overdue["dpd"], overdue["outstanding"]["penalty"]) == (19, "9.50")
    waived = line_of(outcome["snapshots"]["waived"], "amy", "huabei")
    # The fee is forgiven; the waiver re-ages the line as of today, and the unpaid
    # minimum still makes it late: 20 days after 04-10.
    assert (waived["dpd"], waived["outstanding"]["penalty"]) == (20, "0.00")
    paid = line_of(outcome["snapshots"]["paid"], "amy", "huabei")
    # The minimum paid: all 100.00 goes to principal, and the line is current.
    assert (paid["dpd"], paid["outstanding"]["principal"]) == (0, "900.00")
    assert outcome["ledger"]["balanced"]
    assert _account(engine, "waiver_expense") == 950
    assert _account(engine, "penalty_receivable") == 0


def test_waiving_a_last_bill_installment_s_fee_leaves_a_minimum_that_paying_all_meets(
    engine: sa.Engine,
) -> None:
    outcome = _amy_on_huabei(
        engine,
        """\
  - {date: 2026-03-20, purchase: {borrower: amy, product: huabei, amount: "300.00",
                                  installments: 3}}
  - {date: 2026-04-10, repay: {borrower: amy, product: huabei, amount: all_due}}
  - {date: 2026-05-10, repay: {borrower: amy, product: huabei, amount: all_due}}
  - date: 2026-06-20
    waive: {borrower: amy, product: huabei, component: fee, amount: all, reason: "goodwill",
            by: risk-li}
  - {date: 2026-06-20, repay: {borrower: amy, product: huabei, amount: all}}
  - {date: 2026-06-20, snapshot: paid}
end: 2026-06-22
""",
    )
    # Each month 100.00 + 300 x 2.5% / 3 = 2.50 fee; the 06-01 statement's minimum is
    # the last installment, 102.50. With its fee waived, paying everything owed (the
    # 100.00 and the overdue fee since 06-13) is less than that minimum.
    june = line_of(outcome["snapshots"]["paid"], "amy", "huabei")
    statement = next(s for s in june["statements"] if s["date"] == "2026-06-01")
    paid = next(e for e in outcome["events"] if e["type"] == "repay" and e["date"] == "2026-06-20")
    assert paid["allocated"]["principal"] == "100.00" and paid["allocated"]["fee"] == "0.00"
    assert statement["minimum_payment"] == paid["amount"]
    assert Decimal(paid["amount"]) < Decimal("102.50")
    assert (june["dpd"], june["bucket"]) == (0, "M0")
    final = line_of(outcome["final"], "amy", "huabei")
    assert final["dpd"] == 0
    assert outcome["ledger"]["balanced"]


# --- settlement ---------------------------------------------------------------------------


def test_example_settlement_closes_the_account_as_c(engine: sa.Engine) -> None:
    outcome = run_example(engine, "settlement_closes_account_as_c")
    settled = next(e for e in outcome["events"] if e["type"] == "settle")
    # 6000.00 + 10 days (03-01 .. 03-11) × 6000 × 0.0004.
    assert (settled["ok"], settled["amount"], settled["status"]) == (True, "6024.00", "closed")
    line = line_of(outcome["final"], "bob", "weilidai")
    assert line["status"] == "closed"
    assert [loan["status"] for loan in line["loans"]] == ["paid_off"]
    march = [e for e in outcome["events"] if e["type"] == "reported"]
    assert [(e["period_end"], e["status"]) for e in march] == [("2026-03-31", "C")]
    assert outcome["ledger"]["balanced"]
    assert _account(engine, "settlement") == -600000 + 602400
    kinds = _scalar(engine, "SELECT COUNT(*) FROM notifications WHERE kind = 'settled'")
    assert kinds == 1


def test_a_closed_line_cannot_be_settled_again(engine: sa.Engine) -> None:
    _weilidai(engine)
    with engine.begin() as conn:
        answer = settle(open_context(conn), "bob", "weilidai")
    # Everything owed on 04-10: installment 1 (1200.00 + 74.40 + 5.76 penalty), principal
    # 4800.00 and its interest accrued 04-01 .. 04-10: 4800 × 0.0004 × 9 = 17.28.
    assert answer["amount"] == "6097.44"
    assert _balanced(engine)
    before = dump(engine)
    with pytest.raises(RefusedError, match="already closed"), engine.begin() as conn:
        settle(open_context(conn), "bob", "weilidai")
    assert dump(engine) == before


def test_settling_a_revolving_line_in_credit_pays_the_credit_back(engine: sa.Engine) -> None:
    outcome = _amy_on_huabei(
        engine,
        """\
  - {date: 2026-03-20, purchase: {borrower: amy, product: huabei, amount: "100.00"}}
  - {date: 2026-03-21, repay: {borrower: amy, product: huabei, amount: "130.00"}}
  - {date: 2026-03-22, settle: {borrower: amy, product: huabei}}
end: 2026-03-23
""",
    )
    settled = next(e for e in outcome["events"] if e["type"] == "settle")
    # Nothing is owed after the 130.00 payment of a 100.00 purchase: the 30.00 left over
    # goes back to the borrower as the line closes.
    assert (settled["ok"], settled["amount"], settled["refunded"]) == (True, "0.00", "30.00")
    line = line_of(outcome["final"], "amy", "huabei")
    assert (line["status"], line["credit_balance"]) == ("closed", "0.00")
    assert outcome["ledger"]["balanced"]
    assert _account(engine, "borrower_credit") == 0
    # Cash: 100.00 out for the purchase, 130.00 in, 30.00 back out.
    assert _account(engine, "settlement") == -10_000 + 13_000 - 3_000
    payload = json.loads(
        _scalar(engine, "SELECT payload FROM notifications WHERE kind = 'settled'")
    )
    assert payload["refunded"] == "30.00"


def test_a_closed_revolving_line_takes_no_overpayment(engine: sa.Engine) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "amy", 600000)
        open_line(ctx, "amy", "huabei", 500000)
        purchase(ctx, "amy", "huabei", 10000)
        conn.execute(sa.text("UPDATE credit_lines SET status = 'closed'"))  # a review's close
    before = dump(engine)
    with (
        pytest.raises(RefusedError, match="exceeds everything owed") as refused,
        engine.begin() as conn,
    ):
        repay(open_context(conn), "amy", "huabei", 10001)
    assert refused.value.code == "exceeds_payoff"
    assert dump(engine) == before
    with engine.begin() as conn:
        paid = repay(open_context(conn), "amy", "huabei", 10000)
    assert (paid.amount_fen, paid.credit_added_fen) == (10000, 0)


# --- write-off recoveries -----------------------------------------------------------------


def test_example_writeoff_recovery(engine: sa.Engine) -> None:
    outcome = run_example(engine, "writeoff_recovery")
    # 3000.00 principal, interest 46.50 + 42.00 + 46.50, and 121 days (04-02 .. 07-31)
    # of penalty at 3000 × 0.0005 × 1.5 = 2.25.
    written_off = 300000 + 4650 + 4200 + 4650 + 121 * 225
    assert written_off == 340725
    events = {e["type"]: e for e in outcome["events"] if e.get("date", "") >= "2026-07-31"}
    assert events["written_off"]["amount"] == "3407.25"
    recoveries = [e for e in outcome["events"] if e["type"] == "recovery_received"]
    assert [(e["amount"], e["remaining"]) for e in recoveries] == [
        ("500.00", "2907.25"),
        ("2907.25", "0.00"),
    ]
    repaid = next(e for e in outcome["events"] if e["type"] == "repay")
    assert repaid["recovered"] == "500.00"
    assert set(repaid["allocated"].values()) == {"0.00"}
    assert _account(engine, "recovery_income") == -written_off
    assert _account(engine, "write_off_expense") == written_off
    # The receivables were emptied by the write-off and no recovery touched them.
    for account in ("loan_principal", "interest_receivable", "penalty_receivable"):
        assert _account(engine, account) == 0
    reports = [
        (e["period_end"], e["status"])
        for e in outcome["events"]
        if e["type"] == "reported" and e["period_end"] >= "2026-07-31"
    ]
    assert reports == [("2026-07-31", "B"), ("2026-08-31", "C")]
    with engine.connect() as conn:
        ended = conn.execute(
            sa.text("SELECT DISTINCT delinquency_ended_on FROM bureau_records WHERE status = 'B'")
        ).scalar_one()
    assert str(ended) == "2026-08-10"
    assert outcome["ledger"]["balanced"]


def test_a_recovery_cannot_exceed_what_was_written_off(engine: sa.Engine) -> None:
    initialise(engine, date(2026, 1, 1))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "cat", 500000)
        open_line(ctx, "cat", "jiebei", 2000000, Decimal("0.0005"))
        draw(ctx, "cat", "jiebei", 300000, 3, "interest_first")
    run_eod(engine, date(2026, 8, 2))
    before = dump(engine)
    too_much = r"exceeds everything owed \(3407\.25\)"
    with pytest.raises(RefusedError, match=too_much), engine.begin() as conn:
        repay(open_context(conn), "cat", "jiebei", 340726)
    assert dump(engine) == before
    with engine.begin() as conn:
        paid = repay(open_context(conn), "cat", "jiebei", "all")
    assert (paid.amount_fen, paid.recovered_fen) == (340725, 340725)
    assert _balanced(engine)


# --- templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("waiver_granted", {"component": "penalty", "amount": "5.76", "reason": "r"}, "5.76"),
        ("settled", {"amount": "6024.00", "recovered": "0.00", "refunded": "0.00"}, "6024.00"),
        ("settled", {"amount": "0.00", "recovered": "0.00", "refunded": "30.00"}, "30.00"),
        ("recovery_received", {"amount": "500.00", "remaining": "2907.25"}, "2907.25"),
    ],
)
def test_templates_render_subject_and_body(
    lang: str, kind: str, payload: dict[str, str], expected: str
) -> None:
    subject, body = render(kind, lang, payload, "weilidai", date(2026, 4, 10))
    assert subject.strip() and "\n" not in subject
    assert expected in body and "2026-04-10" in body


# --- the API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    client: TestClient
    engine: sa.Engine
    webank_admin: dict[str, str]
    webank_operator: dict[str, str]
    ant_admin: dict[str, str]
    borrower: dict[str, str]


@pytest.fixture
def api(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    cheap_secret_hashing(monkeypatch)
    _weilidai(engine)
    with engine.begin() as conn:
        create_user(conn, "bob", PASSWORD, "borrower", borrower_id="bob")
        create_user(conn, "wen", PASSWORD, "risk_admin", lender_group="webank")
        create_user(conn, "otto", PASSWORD, "operator", lender_group="webank")
        create_user(conn, "rita", PASSWORD, "risk_admin", lender_group="ant")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        tokens = {u: log_in(conn, u, PASSWORD, now) for u in ("bob", "wen", "otto", "rita")}
    app = create_app(engine, PiiCipher(os.urandom(32)), handle_events=False)
    with TestClient(app) as client:
        yield Api(
            client,
            engine,
            webank_admin=bearer(tokens["wen"]),
            webank_operator=bearer(tokens["otto"]),
            ant_admin=bearer(tokens["rita"]),
            borrower=bearer(tokens["bob"]),
        )


WAIVER = {
    "borrower": "bob",
    "product": "weilidai",
    "component": "penalty",
    "amount": "2.00",
    "reason": "hardship",
}


def test_api_waiver_by_risk_admin_is_recorded_and_audited(api: Api) -> None:
    response = api.client.post("/v1/waivers", json=WAIVER, headers=api.webank_admin)
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == "2.00"
    with api.engine.connect() as conn:
        granted_by = conn.execute(sa.text("SELECT granted_by FROM waivers")).scalar_one()
        audit = conn.execute(
            sa.text("SELECT actor, role, action FROM audit_log WHERE action = 'waive'")
        ).one()
    assert granted_by == "wen"
    assert tuple(audit) == ("wen", "risk_admin", "waive")
    assert _account(api.engine, "waiver_expense") == 200
    assert _balanced(api.engine)


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("webank_operator", WAIVER, 403, "forbidden"),
        ("borrower", WAIVER, 403, "forbidden"),
        ("ant_admin", WAIVER, 404, "not_found"),
        ("webank_admin", WAIVER | {"by": "someone"}, 400, "invalid_input"),
        ("webank_admin", WAIVER | {"reason": ""}, 400, "invalid_input"),
        ("webank_admin", WAIVER | {"amount": "9.99"}, 422, "exceeds_owed"),
    ],
)
def test_api_refused_waiver_leaves_the_database_unchanged(
    api: Api, who: str, body: dict[str, str], status: int, code: str
) -> None:
    before = dump(api.engine)
    response = api.client.post("/v1/waivers", json=body, headers=getattr(api, who))
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert dump(api.engine) == before


def test_api_settlement_needs_a_key_and_replays(api: Api) -> None:
    body = {"borrower": "bob", "product": "weilidai"}
    before = dump(api.engine)
    missing = api.client.post("/v1/settlements", json=body, headers=api.borrower)
    assert missing.status_code == 400
    assert dump(api.engine) == before
    headers = api.borrower | {"Idempotency-Key": "settle-1"}
    first = api.client.post("/v1/settlements", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["amount"] == "6097.44"
    again = api.client.post("/v1/settlements", json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert _scalar(api.engine, "SELECT status FROM credit_lines") == "closed"
    assert _balanced(api.engine)


def test_authorised_draw_is_refused_on_a_closed_line(engine: sa.Engine) -> None:
    _weilidai(engine)
    with engine.begin() as conn:
        settle(open_context(conn), "bob", "weilidai")
    with engine.begin() as conn:
        decision, loan = authorised_draw(
            open_context(conn), "bob", "weilidai", 10000, 3, "equal_principal"
        )
    assert loan is None and not decision.authorised


# --- negotiated settlement ----------------------------------------------------------------


def test_a_negotiated_settlement_waives_penalty_then_interest(engine: sa.Engine) -> None:
    _weilidai(engine)
    # Payoff 6097.44 (see above); 6020.00 leaves 77.44 to waive: the 5.76 penalty, then
    # 71.68 of installment 1's 74.40 interest. The 17.28 accrued since 04-01 is not yet
    # recognised, so it is paid, not waived.
    with engine.begin() as conn:
        answer = settle(open_context(conn), "bob", "weilidai", 602000, "hardship", "wen")
    assert answer["amount"] == "6020.00"
    assert _account(engine, "waiver_expense") == 576 + 7168
    with engine.connect() as conn:
        waived = conn.execute(
            sa.text("SELECT component, amount_fen, granted_by FROM waivers ORDER BY waiver_id")
        ).all()
    assert [tuple(w) for w in waived] == [("penalty", 576, "wen"), ("interest", 7168, "wen")]
    assert _scalar(engine, "SELECT status FROM credit_lines") == "closed"
    assert _balanced(engine)


def test_a_settlement_below_the_floor_is_refused_unchanged(engine: sa.Engine) -> None:
    _weilidai(engine)
    before = dump(engine)
    # Waiving all penalty (5.76) and recognised interest (74.40) leaves 6017.28.
    floor = r"^amount: 6000\.00 is less than the line can settle for \(6017\.28"
    with pytest.raises(RefusedError, match=floor), engine.begin() as conn:
        settle(open_context(conn), "bob", "weilidai", 600000, "hardship", "wen")
    with pytest.raises(InputError, match=r"^waive_rest_reason"), engine.begin() as conn:
        settle(open_context(conn), "bob", "weilidai", 600000, None, "wen")
    assert dump(engine) == before


def test_api_only_a_risk_admin_negotiates(api: Api) -> None:
    body = {"borrower": "bob", "product": "weilidai"}
    negotiated = body | {"amount": "6020.00", "waive_rest_reason": "hardship"}
    before = dump(api.engine)
    for who, sent in ((api.borrower, negotiated), (api.webank_admin, body)):
        refused = api.client.post(
            "/v1/settlements", json=sent, headers=who | {"Idempotency-Key": "n-1"}
        )
        assert refused.status_code == 403
    assert dump(api.engine) == before
    headers = api.webank_admin | {"Idempotency-Key": "n-1"}
    response = api.client.post("/v1/settlements", json=negotiated, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["amount"] == "6020.00"
    assert _scalar(api.engine, "SELECT DISTINCT granted_by FROM waivers") == "wen"
    assert _balanced(api.engine)


def test_the_openapi_document_lists_waivers_and_settlements(api: Api) -> None:
    paths = set(api.client.get("/v1/openapi.json").json()["paths"])
    assert {"/v1/waivers", "/v1/settlements"} <= paths
