"""Applications: the group's view, the policy, vetoes, referrals and stored decisions.

The mechanics are tested with a small policy uploaded for the test, whose
limits follow from the income alone (so each figure is computed here, to the
fen, without the scorecard); the shipped policies' behaviour is tested through
the example scenario that answers "I was late on Huabei; can I borrow
elsewhere?".
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.catalog.apr import tier_apr
from crossline.decisions.applications import apply, submit_document, verify_document
from crossline.decisions.policies import activate_policy, arm_of, upload_policy
from crossline.policy.errors import PolicyError
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.store.schema import (
    applications,
    borrowers,
    bureau_inquiries,
    credit_lines,
    decisions,
    notifications,
    policies,
)
from tests.conftest import initialise
from tests.helpers import dump, run_example

START = date(2026, 3, 3)


def _table(
    path: str, hit: str, inputs: list[str], outputs: list[str], rows: list[list[str]]
) -> dict[str, Any]:
    return {
        "id": path,
        "type": "decisionTableNode",
        "name": path.title(),
        "content": {
            "hitPolicy": hit,
            "outputPath": path,
            "inputs": [{"id": f"i_{f}", "name": f, "field": f} for f in inputs],
            "outputs": [{"id": f"o_{f}", "name": f, "field": f} for f in outputs],
            "rules": [
                {"_id": f"{path}{n}"}
                | {f"i_{f}": cell for f, cell in zip(inputs, row[: len(inputs)], strict=True)}
                | {f"o_{f}": cell for f, cell in zip(outputs, row[len(inputs) :], strict=True)}
                for n, row in enumerate(rows, start=1)
            ],
        },
    }


OFFER = ["outcome", "limit_fen", "tier", "reason", "documents"]


def small_policy(version: str = "ant-test-1") -> dict[str, Any]:
    """ant: veto any current overdue; with verified income, twice the income across the
    group's lines at tier A; a declared income under 5000.00 is referred for proof;
    otherwise one month's income at tier B."""
    veto = _table("veto", "collect", ["current_status"], ["code"], [[">= 1", '"overdue"']])
    offer = _table(
        "offer",
        "first",
        ["income_proof", "declared_income_fen"],
        OFFER,
        [
            [
                '"verified"',
                "",
                '"approve"',
                "monthly_income_fen * 2 - group_limit_fen",
                '"A"',
                "",
                "",
            ],
            ['"submitted"', "", '"refer"', "0", "", '"proof"', '["income_proof"]'],
            ["", "< 500000", '"refer"', "0", "", '"proof"', '["income_proof"]'],
            ["", "", '"approve"', "monthly_income_fen - group_limit_fen", '"B"', "", ""],
        ],
    )
    nodes = [{"id": "in", "type": "inputNode", "name": "in"}, veto, offer]
    nodes.append({"id": "out", "type": "outputNode", "name": "out"})
    edges = [
        {"id": f"{a}-{b}", "sourceId": a, "targetId": b}
        for a, b in [("in", "veto"), ("in", "offer"), ("veto", "out"), ("offer", "out")]
    ]
    return {
        "format": "crossline-policy/1",
        "group": "ant",
        "version": version,
        "reasons": {"overdue": "You are overdue now.", "proof": "We need proof of income."},
        "documents": {"income_proof": "A payslip."},
        "pricing": {"jiebei": {"A": "0.0002", "B": "0.0004"}},
        "decisions": {"application": {"nodes": nodes, "edges": edges}},
    }


def _setup(
    engine: sa.Engine, incomes: dict[str, int], policy: dict[str, Any] | None = None
) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for borrower, income in incomes.items():
            register_borrower(ctx, borrower, income)
        if policy is not None:
            upload_policy(conn, json.dumps(policy), START)
            activate_policy(conn, policy["group"], policy["version"], START)


def test_approval_opens_a_line_shared_under_the_group_limit(engine: sa.Engine) -> None:
    _setup(engine, {"ning": 800_000}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        huabei = apply(ctx, "ning", "huabei")
        jiebei = apply(ctx, "ning", "jiebei", requested_limit_fen=300_000)
    # one month's income (8000.00) at tier B for Huabei; Jiebei gets what is left of it
    assert (huabei.status, huabei.limit_fen, huabei.tier) == ("approved", 800_000, "B")
    assert (jiebei.status, jiebei.reasons[0].code) == ("declined", "no_limit_left")
    # then what holds the score down, up to four reasons in all
    assert 1 < len(jiebei.reasons) <= 4
    with engine.connect() as conn:
        lines = conn.execute(
            sa.select(credit_lines.c.product, credit_lines.c.limit_fen, credit_lines.c.status)
        ).all()
        stored = conn.execute(
            sa.select(
                decisions.c.outcome,
                decisions.c.policy_version,
                decisions.c.arm,
                decisions.c.inputs,
                decisions.c.outputs,
            ).order_by(decisions.c.decision_id)
        ).all()
        pulls = conn.execute(
            sa.select(
                bureau_inquiries.c.inquirer, bureau_inquiries.c.reason, bureau_inquiries.c.hard
            )
        ).all()
        notices = conn.execute(sa.select(notifications.c.kind, notifications.c.payload)).all()
    assert lines == [("huabei", 800_000, "active")]
    assert [(s.outcome, s.policy_version, s.arm) for s in stored] == [
        ("approved", "ant-test-1", "champion"),
        ("declined", "ant-test-1", "champion"),
    ]
    second_inputs = json.loads(stored[1].inputs)
    assert (second_inputs["group_limit_fen"], second_inputs["group_lines"]) == (800_000, 1)
    assert second_inputs["requested_limit_fen"] == 300_000
    assert json.loads(stored[1].outputs)["offer"]["limit_fen"] == "0"
    assert pulls == [("ant", "loan_approval", True)] * 2
    assert [n.kind for n in notices] == ["application_decision"] * 2
    assert json.loads(notices[1].payload)["reasons"][0]["code"] == "no_limit_left"


def test_a_requested_limit_caps_the_offer_and_the_tier_sets_the_price(engine: sa.Engine) -> None:
    _setup(engine, {"ning": 800_000}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        jiebei = apply(ctx, "ning", "jiebei", requested_limit_fen=500_000)
        rate = conn.execute(sa.select(credit_lines.c.daily_rate_units)).scalar_one()
    assert (jiebei.limit_fen, jiebei.tier, jiebei.rate) == (500_000, "B", Decimal("0.0004"))
    assert rate == 4_000_000  # 0.0004 in units of 1e-10
    with engine.connect() as conn:
        product = open_context(conn).catalog.product("jiebei")
    assert jiebei.apr == tier_apr(product, Decimal("0.0004"))


def test_a_referral_is_approved_once_the_income_proof_is_verified(engine: sa.Engine) -> None:
    _setup(engine, {"ming": 400_000}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        referred = apply(ctx, "ming", "jiebei")
        submitted = submit_document(ctx, referred.application_id, "income_proof", 450_000)
        document = conn.execute(sa.text("select max(document_id) from documents")).scalar_one()
        approved = verify_document(ctx, document, verified=True)
    assert (referred.status, referred.documents) == ("referred", ("income_proof",))
    assert referred.reasons[0].code == "proof"
    assert submitted.status == "referred"
    # verified income 4500.00 × 2, nothing else with ant yet
    assert (approved.status, approved.limit_fen, approved.tier) == ("approved", 900_000, "A")
    assert approved.application_id == referred.application_id
    with engine.connect() as conn:
        verified = conn.execute(sa.select(borrowers.c.verified_income_fen)).scalar_one()
        status = conn.execute(sa.select(applications.c.status)).scalar_one()
        decided = conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one()
        pulls = conn.execute(sa.select(sa.func.count()).select_from(bureau_inquiries)).scalar_one()
    assert (verified, status, decided, pulls) == (450_000, "approved", 3, 1)


def test_bad_input_and_refusals_leave_the_database_unchanged(engine: sa.Engine) -> None:
    _setup(engine, {"ming": 400_000}, small_policy())
    with engine.begin() as conn:
        referred = apply(open_context(conn), "ming", "jiebei")
        open_line(open_context(conn), "ming", "huabei", 100_000)
    before = dump(engine)
    attempts: list[tuple[Any, type[Exception], str]] = [
        (lambda ctx: apply(ctx, "ming", "mortgage"), InputError, "product"),
        (
            lambda ctx: apply(ctx, "ming", "huabei", requested_limit_fen=0),
            InputError,
            "requested_limit",
        ),
        (lambda ctx: apply(ctx, "nobody", "huabei"), RefusedError, "unknown_borrower"),
        (lambda ctx: apply(ctx, "ming", "jiebei"), RefusedError, "application_pending"),
        (lambda ctx: apply(ctx, "ming", "huabei"), RefusedError, "line_exists"),
        (lambda ctx: submit_document(ctx, referred.application_id, "passport"), InputError, "kind"),
        (
            lambda ctx: submit_document(ctx, referred.application_id, "income_proof"),
            InputError,
            "monthly_income",
        ),
        (
            lambda ctx: submit_document(ctx, 999, "income_proof", 1),
            RefusedError,
            "unknown_application",
        ),
        (lambda ctx: verify_document(ctx, 999, verified=True), RefusedError, "unknown_document"),
    ]
    for attempt, error, where in attempts:
        with pytest.raises(error) as caught, engine.begin() as conn:
            attempt(open_context(conn))
        assert where in (
            caught.value.field if isinstance(caught.value, InputError) else caught.value.code
        )
        assert dump(engine) == before


def test_a_policy_that_breaks_its_contract_is_refused_and_not_stored(engine: sa.Engine) -> None:
    _setup(engine, {})
    broken = small_policy()
    offer = broken["decisions"]["application"]["nodes"][2]["content"]
    offer["rules"][0]["o_tier"] = '"Z"'
    unpriced = copy.deepcopy(broken)
    no_text = small_policy()
    no_text["decisions"]["application"]["nodes"][1]["content"]["rules"][0]["o_code"] = '"late"'
    before = dump(engine)
    for policy, where, message in [
        (unpriced, "row 'offer1' › column 'tier'", "no price for jiebei"),
        (no_text, "row 'veto1' › column 'code'", "no reasons text for 'late'"),
    ]:
        with pytest.raises(PolicyError) as caught, engine.begin() as conn:
            upload_policy(conn, json.dumps(policy), START)
        assert where in caught.value.where
        assert message in caught.value.message
    assert dump(engine) == before


def test_a_version_is_uploaded_once(engine: sa.Engine) -> None:
    _setup(engine, {}, small_policy())
    changed = small_policy()
    changed["description"] = "edited without a new version"
    with pytest.raises(RefusedError) as caught, engine.begin() as conn:
        upload_policy(conn, json.dumps(changed), START)
    assert caught.value.code == "version_exists"
    with engine.begin() as conn:
        upload_policy(conn, json.dumps(small_policy()), START)
        count = conn.execute(sa.select(sa.func.count()).select_from(policies)).scalar_one()
    assert count == 1


def _bucket(borrower: str, group: str) -> int:
    """The borrower's bucket, computed here from the documented hash."""
    digest = hashlib.sha256(f"{group}:{borrower}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def test_champion_and_challenger_split_borrowers_by_a_stable_hash(engine: sa.Engine) -> None:
    people = {f"b{n:03}": 800_000 for n in range(40)}
    _setup(engine, people, small_policy())
    challenger = small_policy("ant-test-2")
    with engine.begin() as conn:
        upload_policy(conn, json.dumps(challenger), START)
        activate_policy(conn, "ant", "ant-test-2", START, challenger_share=30)
        ctx = open_context(conn)
        results = {b: apply(ctx, b, "huabei") for b in people}
    for borrower, result in results.items():
        expected = "challenger" if _bucket(borrower, "ant") < 30 else "champion"
        assert result.arm == expected == arm_of(borrower, "ant", 30)
        assert result.policy_version == ("ant-test-2" if expected == "challenger" else "ant-test-1")
    assert {r.arm for r in results.values()} == {"champion", "challenger"}


def _applications(outcome: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (e["date"], e["borrower"], e["product"]): e
        for e in outcome["events"]
        if e["type"] == "apply"
    }


def test_late_on_huabei_changes_jiebei_at_once_and_others_only_after_the_report(
    engine: sa.Engine,
) -> None:
    outcome = run_example(engine, "huabei_late_then_other_products")
    decided = _applications(outcome)
    ning_jiebei = decided[("2026-04-20", "ning", "jiebei")]
    ming_jiebei = decided[("2026-04-20", "ming", "jiebei")]
    assert ning_jiebei["status"] == "declined"
    assert ning_jiebei["reasons"][0]["code"] == "currently_overdue"
    assert ming_jiebei["status"] == "approved"
    # webank sees no bureau record before the May report: the twins are decided alike
    ning_weilidai = decided[("2026-04-20", "ning", "weilidai")]
    ming_weilidai = decided[("2026-04-20", "ming", "weilidai")]
    same = ("status", "score", "limit", "tier")
    assert {k: ning_weilidai[k] for k in same} == {k: ming_weilidai[k] for k in same}
    # after the May report lexin sees the 45-day overdue: a lower score, a smaller offer
    ning_fenqile = decided[("2026-06-02", "ning", "fenqile")]
    ming_fenqile = decided[("2026-06-02", "ming", "fenqile")]
    assert ning_fenqile["score"] < ming_fenqile["score"]
    assert Decimal(ning_fenqile["limit"]) < Decimal(ming_fenqile["limit"])
    assert outcome["ledger"]["balanced"]
