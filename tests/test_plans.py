"""Personalised installment plans (个性化分期, DOMAIN §5, Art. 70) on both backends.

The loan of every test: Weilidai, 6000.00 drawn 2026-03-01 at 0.0004 a day, equal
principal over 5 months, never paid. On 05-16 the line is 45 days past due: row 1
(due 04-01) owes 1200.00 + interest 6000 × 0.0004 × 31 = 74.40, row 2 (due 05-01) owes
1200.00 + 4800 × 0.0004 × 30 = 57.60, and the penalty 1200 × 0.0004 × 1.5 = 0.72 a day
has accrued for 04-02..05-15 (44 days) on row 1 and 05-02..05-15 (14 days) on row 2.
Expected money is worked out here by hand from those conventions.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.api import create_app
from crossline.catalog import catalog_to_json, load_catalog
from crossline.collections import collections_queue, record_contact
from crossline.decisions.authorisation import authorised_draw
from crossline.eod.runner import run_eod
from crossline.events.templates import LANGUAGES, PRODUCT_NAMES, render
from crossline.ledger.check import check_ledger
from crossline.scenario.spec import Contact
from crossline.scenario.state import snapshot
from crossline.scoring.views import group_features
from crossline.security import create_user, log_in
from crossline.security.pii import PiiCipher
from crossline.servicing.context import open_context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.servicing.plans import (
    accept_plan,
    honoured_plan_lines,
    plan_honoured_condition,
    request_plan,
)
from crossline.servicing.repayment import repay
from crossline.store import platform
from crossline.store.schema import credit_lines, journal, notifications, outbox
from tests.api_support import PASSWORD, bearer, cheap_secret_hashing
from tests.conftest import initialise
from tests.helpers import dump, line_of, run_example, run_yaml

START = date(2026, 3, 1)
PLAN_DAY = date(2026, 5, 16)

PRINCIPAL = 600000
INTEREST = 7440 + 5760
PENALTY = 72 * 44 + 72 * 14
CARRIED = PRINCIPAL + INTEREST + PENALTY


def _fen(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _overdue(engine: sa.Engine, penalty_policy: str = "include") -> None:
    """Bob's Weilidai loan, unpaid, with the book open on 05-16 (45 days past due)."""
    catalog = json.loads(catalog_to_json(load_catalog("default")))
    for provider in catalog["providers"]:
        provider["plan_penalty"] = penalty_policy
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=START, catalog_json=json.dumps(catalog), partitions=1
        )
        ctx = open_context(conn)
        register_borrower(ctx, "bob", 900000)
        open_line(ctx, "bob", "weilidai", 3000000, Decimal("0.0004"))
        draw(ctx, "bob", "weilidai", 600000, 5, "equal_principal")
    run_eod(engine, PLAN_DAY - timedelta(days=1))


def _request(engine: sa.Engine, months: int) -> dict[str, Any]:
    with engine.begin() as conn:
        return request_plan(open_context(conn), "bob", "weilidai", months)


def _accept(engine: sa.Engine) -> dict[str, Any] | None:
    with engine.begin() as conn:
        return accept_plan(open_context(conn), "bob", "weilidai")


def _line(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        today = platform.business_date(conn)
        return line_of(snapshot(conn, today), "bob", "weilidai")


def _kinds(engine: sa.Engine) -> list[str]:
    """The plan notifications sent, in order."""
    n = notifications.c
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(n.kind).where(n.kind.like("plan_%")).order_by(n.notification_id)
            ).scalars()
        )


def _queued(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        today = platform.business_date(conn)
        return [(q["borrower"], q["product"]) for q in collections_queue(conn, today)]


def _call(engine: sa.Engine) -> dict[str, Any]:
    """An answered 10:00 call to bob about his Weilidai line."""
    call = Contact(
        borrower="bob",
        product="weilidai",
        at="10:00",
        channel="call",
        party="debtor",
        answered=True,
    )
    with engine.begin() as conn:
        return record_contact(open_context(conn), call, None)


def _render_plan_notices(engine: sa.Engine) -> set[str]:
    """Render every plan notification sent, in Chinese and English, from its stored
    payload (undefined names fail); return the kinds rendered."""
    n = notifications.c
    with engine.connect() as conn:
        sent = conn.execute(
            sa.select(n.kind, n.payload, n.product, n.business_date).where(n.kind.like("plan_%"))
        ).all()
    for kind, payload, product, day in sent:
        for lang in LANGUAGES:
            subject, body = render(kind, lang, json.loads(payload), product, day)
            assert PRODUCT_NAMES[lang][product] in subject and day.isoformat() in body
    return {kind for kind, *_ in sent}


def test_the_offer_reschedules_the_overdue_and_not_yet_due_balance_to_the_fen(
    engine: sa.Engine,
) -> None:
    _overdue(engine)
    assert _line(engine)["dpd"] == 44  # as closed on 05-15; 45 at the end of 05-16
    offer = _request(engine, 7)
    # 6173.76 over 7 months: 617376 // 7 = 88196 each, the last takes 617376 − 6 × 88196.
    assert (offer["principal"], offer["interest"], offer["penalty"]) == (
        "6000.00",
        "132.00",
        "41.76",
    )
    assert (offer["total"], offer["penalty_waived"], offer["apr"]) == ("6173.76", "0.00", "0.00%")
    assert [r["amount"] for r in offer["schedule"]] == ["881.96"] * 6 + ["882.00"]
    assert [r["due_date"] for r in offer["schedule"]] == [f"2026-{m:02d}-16" for m in range(6, 13)]
    assert offer["delinquent_since"] == "2026-04-01"
    assert _kinds(engine) == ["plan_offered"]


def test_accepting_closes_the_old_rows_into_the_plan_and_the_line_is_current(
    engine: sa.Engine,
) -> None:
    _overdue(engine)
    _request(engine, 7)
    accepted = _accept(engine)
    assert accepted is not None and accepted["status"] == "active"
    line = _line(engine)
    assert (line["dpd"], line["bucket"], line["pboc_status"]) == (0, "M0", "N")
    old, plan = line["loans"]
    assert old["status"] == "paid_off"
    assert plan["kind"] == "installment" and plan["principal"] == _fen(CARRIED)
    assert [r["principal"] for r in plan["schedule"]] == ["881.96"] * 6 + ["882.00"]
    assert line["outstanding"]["principal"] == "6173.76"
    assert line["outstanding"]["penalty"] == "0.00"
    assert line["plan"]["status"] == "active" and line["plan"]["remaining"] == "6173.76"
    with engine.connect() as conn:
        assert check_ledger(conn).balanced
        moved = conn.execute(
            sa.select(journal.c.loan_id, journal.c.account, journal.c.amount_fen).where(
                journal.c.event == "plan_transfer"
            )
        ).all()
        assert honoured_plan_lines(conn, "bob") == {1}
        sheltered = conn.execute(
            sa.select(credit_lines.c.credit_line_id).where(
                plan_honoured_condition(credit_lines.c.credit_line_id)
            )
        ).scalars()
        assert list(sheltered) == [1]
    assert sorted(moved) == sorted(
        [
            (1, "conversion_clearing", CARRIED),
            (1, "loan_principal", -PRINCIPAL),
            (1, "interest_receivable", -INTEREST),
            (1, "penalty_receivable", -PENALTY),
            (2, "loan_principal", CARRIED),
            (2, "conversion_clearing", -CARRIED),
        ]
    )
    assert _kinds(engine) == ["plan_offered", "plan_started"]


def test_a_waiving_provider_reverses_the_penalty_instead_of_carrying_it(
    engine: sa.Engine,
) -> None:
    _overdue(engine, penalty_policy="waive")
    offer = _request(engine, 12)
    assert (offer["penalty"], offer["penalty_waived"]) == ("0.00", "41.76")
    # 6132.00 / 12 = 511.00 exactly.
    assert offer["total"] == "6132.00" and offer["installment"] == "511.00"
    _accept(engine)
    with engine.connect() as conn:
        assert check_ledger(conn).balanced
        income = conn.execute(
            sa.select(sa.func.sum(journal.c.amount_fen)).where(
                journal.c.account == "penalty_income"
            )
        ).scalar_one()
    assert income == 0  # every fen of penalty accrued was reversed by the waiver


def test_refusals_name_the_rule_and_leave_the_database_unchanged(engine: sa.Engine) -> None:
    _overdue(engine)
    with engine.begin() as conn:
        ctx = open_context(conn)
        open_line(ctx, "bob", "huabei", 500000)
        open_line(ctx, "bob", "jiebei", 500000, Decimal("0.0004"))
    before = dump(engine)
    cases = [
        ("weilidai", 61, "plan_over_60_months", r"at most 60 months \(Art\. 70"),
        ("weilidai", 1, "plan_under_2_months", "extension"),
        ("jiebei", 6, "line_not_overdue", "request an extension instead"),
        ("huabei", 6, "line_not_overdue", "request an extension instead"),
        ("fenqile", 6, "no_line", "no fenqile line"),
    ]
    for product, months, code, message in cases:
        with pytest.raises(RefusedError, match=message) as refused, engine.begin() as conn:
            request_plan(open_context(conn), "bob", product, months)
        assert refused.value.code == code
    assert _accept(engine) is None
    assert dump(engine) == before
    _request(engine, 60)
    _accept(engine)
    before = dump(engine)
    with pytest.raises(RefusedError, match="already has an active") as refused:
        _request(engine, 12)
    assert refused.value.code == "plan_active"
    assert dump(engine) == before


def test_an_offer_is_valid_on_its_day_only_and_a_new_request_supersedes_it(
    engine: sa.Engine,
) -> None:
    _overdue(engine)
    _request(engine, 6)
    second = _request(engine, 10)
    run_eod(engine, PLAN_DAY)
    before = dump(engine)
    with pytest.raises(RefusedError, match="valid that day only") as refused:
        _accept(engine)
    assert refused.value.code == "plan_offer_expired"
    assert dump(engine) == before
    assert second["months"] == 10
    assert _line(engine)["plan"]["months"] == 10  # the superseded offer is not shown


def test_an_offer_outdated_by_a_payment_the_same_day_is_refused(engine: sa.Engine) -> None:
    _overdue(engine)
    _request(engine, 6)
    with engine.begin() as conn:
        repay(open_context(conn), "bob", "weilidai", 10000)
    before = dump(engine)
    with pytest.raises(RefusedError, match="changed since the offer") as refused:
        _accept(engine)
    assert refused.value.code == "plan_offer_stale"
    assert dump(engine) == before


def test_a_plan_paid_to_the_end_completes(engine: sa.Engine) -> None:
    _overdue(engine)
    _request(engine, 2)
    _accept(engine)
    # 617376 / 2 = 308688 each, due 06-16 and 07-16.
    for due in (date(2026, 6, 16), date(2026, 7, 16)):
        run_eod(engine, due - timedelta(days=1))
        with engine.begin() as conn:
            paid = repay(open_context(conn), "bob", "weilidai", "all_due")
        assert paid.amount_fen == 308688
    line = _line(engine)
    assert line["plan"]["status"] == "completed" and line["plan"]["remaining"] == "0.00"
    assert (line["dpd"], line["loans"][1]["status"]) == (0, "paid_off")
    assert _kinds(engine)[-1] == "plan_completed"
    assert _render_plan_notices(engine) == {"plan_offered", "plan_started", "plan_completed"}
    with engine.connect() as conn:
        assert honoured_plan_lines(conn, "bob") == set()
        assert check_ledger(conn).balanced


def test_a_plan_installment_late_within_tolerance_keeps_the_plan(engine: sa.Engine) -> None:
    _overdue(engine)
    _request(engine, 12)
    _accept(engine)
    run_eod(engine, date(2026, 5, 20))
    assert _line(engine)["status"] == "active"  # cured by the plan, restored by the policy
    # The plan repays old debt; it does not open the line to new debt
    with engine.begin() as conn:
        refused_draw, loan_id = authorised_draw(
            open_context(conn), "bob", "weilidai", 100_000, 3, "equal_principal"
        )
    assert (refused_draw.code, loan_id) == ("line_under_plan", None)
    run_eod(engine, date(2026, 7, 16))  # the 06-16 installment is 30 days late
    line = _line(engine)
    assert (line["plan"]["status"], line["dpd"]) == ("active", 30)
    # Late, but the plan stands: no one collects (Art. 70)
    assert _queued(engine) == []
    with pytest.raises(RefusedError) as refused:
        _call(engine)
    assert refused.value.code == "not_collectible"
    run_eod(engine, date(2026, 7, 17))  # 31 days: broken
    line = _line(engine)
    assert line["plan"]["status"] == "broken"
    assert _queued(engine) == [("bob", "weilidai")]
    assert _call(engine)["contact_id"] >= 1
    # The old delinquency: DPD at the close of 07-17 from 04-01, the original oldest due date.
    assert line["dpd"] == (date(2026, 7, 17) - date(2026, 4, 1)).days
    assert "plan_broken" in _render_plan_notices(engine)
    with engine.connect() as conn:
        assert honoured_plan_lines(conn, "bob") == set()
        assert check_ledger(conn).balanced


def test_honoured_plan_pays_on_time_and_reports_n(engine: sa.Engine) -> None:
    outcome = run_example(engine, "plan_honoured_stops_collection")
    assert outcome["ledger"]["balanced"]
    started = outcome["snapshots"]["plan_started"]["borrowers"]["bob"]["lines"]["weilidai"]
    before = outcome["snapshots"]["before_plan"]["borrowers"]["bob"]["lines"]["weilidai"]
    assert (before["dpd"], before["bucket"]) == (44, "M2")  # as closed on 05-15
    assert (started["dpd"], started["bucket"]) == (0, "M0")
    # 6173.76 / 12 = 514.48 exactly; four paid on time.
    repays = [e["amount"] for e in outcome["events"] if e["type"] == "repay"]
    assert repays == ["514.48"] * 4
    line = line_of(outcome["final"], "bob", "weilidai")
    assert line["plan"]["remaining"] == _fen(CARRIED - 4 * 51448)
    assert line["plan"]["installments_paid"] == 4 and line["dpd"] == 0
    months = {r["month"]: r["status"] for r in outcome["final"]["borrowers"]["bob"]["bureau"]}
    # May keeps its true worst status (45 DPD → 2); months under the honoured plan are N.
    assert months == {
        "2026-03": "N",
        "2026-04": "N",
        "2026-05": "2",
        "2026-06": "N",
        "2026-07": "N",
        "2026-08": "N",
    }


def test_a_broken_plan_restores_the_old_delinquency(engine: sa.Engine) -> None:
    outcome = run_example(engine, "plan_broken_restores_delinquency")
    assert outcome["ledger"]["balanced"]
    tolerated = outcome["snapshots"]["last_day_of_tolerance"]["borrowers"]["bob"]["lines"]
    assert (tolerated["weilidai"]["plan"]["status"], tolerated["weilidai"]["dpd"]) == (
        "active",
        30,
    )
    broken = outcome["snapshots"]["after_break"]["borrowers"]["bob"]["lines"]["weilidai"]
    # 45 days late when the plan began on 05-16, and 92 days since: 137, bucket M5.
    assert broken["plan"]["status"] == "broken" and broken["plan"]["ended_on"] == "2026-08-16"
    assert (broken["dpd"], broken["bucket"], broken["pboc_status"]) == (45 + 92, "M5", "5")
    event = next(e for e in outcome["events"] if e["type"] == "plan_broken")
    assert (event["dpd"], event["overdue"]) == (137, _fen(CARRIED - 51448))
    final = line_of(outcome["final"], "bob", "weilidai")
    assert final["dpd"] == (date(2026, 8, 20) - date(2026, 4, 1)).days
    # Penalty resumes at 0.0006 scaled to the original principal's share of the plan
    # (6000.00 of 6173.76), on each of the 11 unpaid 514.48 rows, for 08-17..08-20.
    units = (Decimal(6_000_000) * PRINCIPAL / CARRIED).quantize(Decimal(1), ROUND_HALF_UP)
    per_row = (Decimal(51448) * units / 10**10).quantize(Decimal(1), ROUND_HALF_UP)
    assert final["outstanding"]["penalty"] == _fen(int(per_row) * 11 * 4)


def _settled_dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table once the server's outbox worker has handled every event."""
    deadline = time.monotonic() + 20
    while True:
        with engine.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count()).where(outbox.c.handled.is_(False))
            ).scalar_one()
        if pending == 0:
            return dump(engine)
        assert time.monotonic() < deadline, f"{pending} events still unhandled"
        time.sleep(0.05)


def test_the_api_offers_a_plan_and_refuses_with_the_rule(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_secret_hashing(monkeypatch)
    _overdue(engine)
    with engine.begin() as conn:
        create_user(conn, "bob", PASSWORD, "borrower", borrower_id="bob")
    with engine.begin() as conn:
        token = log_in(conn, "bob", PASSWORD, datetime.now(UTC))
    headers = bearer(token)
    with TestClient(create_app(engine, PiiCipher(os.urandom(32)))) as client:
        before = _settled_dump(engine)
        too_long = {"borrower": "bob", "product": "weilidai", "months": 61}
        answer = client.post("/v1/plans", json=too_long, headers=headers)
        assert answer.status_code == 422, answer.text  # a refusal (api.errors)
        assert answer.json()["error"]["code"] == "plan_over_60_months"
        answer = client.post("/v1/plans", json=too_long | {"months": 0}, headers=headers)
        assert answer.status_code == 400 and answer.json()["error"]["field"] == "months"
        assert _settled_dump(engine) == before
        answer = client.post("/v1/plans", json=too_long | {"months": 7}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["installment"] == "881.96" and answer.json()["ok"] is True
    assert _kinds(engine) == ["plan_offered"]


def test_plans_of_several_borrowers_break_in_one_close_each_to_its_own_start(
    engine: sa.Engine,
) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for borrower in ("bob", "amy"):
            register_borrower(ctx, borrower, 900000)
            open_line(ctx, borrower, "weilidai", 3000000, Decimal("0.0004"))
        draw(ctx, "bob", "weilidai", 600000, 5, "equal_principal")
    run_eod(engine, date(2026, 3, 9))
    with engine.begin() as conn:
        draw(open_context(conn), "amy", "weilidai", 300000, 5, "equal_principal")
    run_eod(engine, PLAN_DAY - timedelta(days=1))
    for borrower in ("bob", "amy"):
        with engine.begin() as conn:
            ctx = open_context(conn)
            request_plan(ctx, borrower, "weilidai", 12)
            accept_plan(ctx, borrower, "weilidai")
    run_eod(engine, date(2026, 7, 17))  # the 06-16 installments are 31 days late
    with engine.connect() as conn:
        state = snapshot(conn, date(2026, 7, 18))
        assert honoured_plan_lines(conn, "bob") == honoured_plan_lines(conn, "amy") == set()
        assert check_ledger(conn).balanced
    bob, amy = (line_of(state, b, "weilidai") for b in ("bob", "amy"))
    assert (bob["plan"]["status"], amy["plan"]["status"]) == ("broken", "broken")
    assert bob["dpd"] == (date(2026, 7, 17) - date(2026, 4, 1)).days
    assert amy["dpd"] == (date(2026, 7, 17) - date(2026, 4, 10)).days
    assert _kinds(engine).count("plan_broken") == 2


FENQILE = """
start: 2026-03-01
end: 2026-05-16
catalog: default
borrowers:
  - {id: amy, monthly_income: "6000.00"}
steps:
  - date: 2026-03-01
    open_line: {borrower: amy, product: fenqile, limit: "10000.00", monthly_fee_rate: "0.008"}
  - date: 2026-03-01
    purchase: {borrower: amy, product: fenqile, amount: "3000.00", installments: 6}
  - {date: 2026-05-16, request_plan: {borrower: amy, product: fenqile, months: 5}}
  - {date: 2026-05-16, accept_offer: {borrower: amy, product: fenqile}}
"""


def test_a_merchant_installment_plan_carries_its_fees_and_overdue_fee(engine: sa.Engine) -> None:
    outcome = run_yaml(engine, FENQILE)
    assert outcome["ledger"]["balanced"]
    offer = next(e for e in outcome["events"] if e["type"] == "request_plan")
    # Rows 1 and 2 (due 04-01, 05-01) each owe 500.00 + fee 3000 × 0.008 = 24.00; the
    # overdue fee 524.00 × 0.0005 = 0.262 → 0.26 a day for 44 and 14 days. The four
    # fees not yet due are not charged.
    penalty = 26 * 44 + 26 * 14
    total = 300000 + 4800 + penalty
    assert (offer["principal"], offer["fee"], offer["penalty"]) == (
        "3000.00",
        "48.00",
        _fen(penalty),
    )
    assert offer["total"] == _fen(total)
    share = total // 5
    assert [r["amount"] for r in offer["schedule"]] == [_fen(share)] * 4 + [_fen(total - 4 * share)]
    line = line_of(outcome["final"], "amy", "fenqile")
    assert (line["dpd"], line["plan"]["status"], line["plan"]["remaining"]) == (
        0,
        "active",
        _fen(total),
    )


def test_a_huabei_statement_overdue_goes_into_a_plan_that_breaks_back_to_its_due_date(
    engine: sa.Engine,
) -> None:
    outcome = run_example(engine, "huabei_plan_after_overdue")
    assert outcome["ledger"]["balanced"]
    offer = next(e for e in outcome["events"] if e["type"] == "request_plan")
    # 1000.00 billed + 19 days x 0.50 overdue fee; 1009.50 / 3 = 336.50 exactly.
    assert (offer["principal"], offer["penalty"], offer["total"]) == ("1000.00", "9.50", "1009.50")
    assert (offer["installment"], offer["last_installment"]) == ("336.50", "336.50")
    assert (offer["first_due_date"], offer["delinquent_since"]) == ("2026-05-30", "2026-04-10")
    started = line_of(outcome["snapshots"]["plan_started"], "amy", "huabei")
    # Current from the start: the statement's unmet minimum no longer ages the line.
    assert (started["dpd"], started["bucket"], started["plan"]["status"]) == (0, "M0", "active")
    assert started["outstanding"]["principal"] == "1009.50"
    # The statement stays as issued, its minimum unmet: the history scores read is true.
    (april,) = started["statements"]
    assert (april["date"], april["balance"], april["minimum_payment"]) == (
        "2026-04-01",
        "1000.00",
        "100.00",
    )
    repaid = next(e for e in outcome["events"] if e["type"] == "repay")
    assert (repaid["amount"], repaid["allocated"]["principal"]) == ("336.50", "336.50")
    tolerated = line_of(outcome["snapshots"]["last_day_of_tolerance"], "amy", "huabei")
    # Installment 2 (06-30) is 29 days late at the close of 07-29, within the tolerance.
    assert (tolerated["plan"]["status"], tolerated["dpd"]) == ("active", 29)
    broken = next(e for e in outcome["events"] if e["type"] == "plan_broken")
    assert (broken["date"], broken["dpd"], broken["overdue"]) == ("2026-07-31", 112, "673.00")
    final = line_of(outcome["final"], "amy", "huabei")
    assert final["dpd"] == (date(2026, 8, 3) - date(2026, 4, 10)).days
    # The overdue fee resumes at 0.0005 scaled to the purchase's share of the plan
    # (1000.00 of 1009.50), on each of the two unpaid 336.50 rows, for 08-01..08-03.
    units = (Decimal(5_000_000) * 100_000 / 100_950).quantize(Decimal(1), ROUND_HALF_UP)
    per_row = (Decimal(33_650) * units / 10**10).quantize(Decimal(1), ROUND_HALF_UP)
    assert final["outstanding"]["penalty"] == _fen(int(per_row) * 2 * 3)
    months = [(r["month"], r["status"]) for r in outcome["final"]["borrowers"]["amy"]["bureau"]]
    # April's worst was 20 days, under the 30-day reporting threshold; the plan months N.
    assert months[:4] == [("2026-03", "N"), ("2026-04", "N"), ("2026-05", "N"), ("2026-06", "N")]


def test_a_huabei_plan_counts_in_the_payment_ratio_and_is_no_spending(engine: sa.Engine) -> None:
    run_example(engine, "huabei_plan_after_overdue")
    with engine.connect() as conn:
        (features,) = group_features(conn, "ant", date(2026, 8, 3), borrowers=["amy"]).iter_rows(
            named=True
        )
    # Due in the window: the April minimum, 100.00, unpaid; the plan's 336.50 paid on
    # 05-30, and its two unpaid 336.50 (dated back to 04-10 by the break).
    assert features["payment_ratio_6m"] == pytest.approx(33_650 / (10_000 + 3 * 33_650), abs=1e-4)
    # Spending: the March purchase only; the plan's loan refinances, it buys nothing.
    assert features["spending_regularity"] == pytest.approx(1 / 6, abs=1e-4)
