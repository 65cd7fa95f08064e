"""Authorising draws and purchases: the line, the group's borrower limit and the policy."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.decisions.applications import apply
from crossline.decisions.authorisation import authorised_draw, authorised_purchase
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError
from crossline.servicing.lines import open_line, register_borrower
from crossline.store.schema import borrower_limits, credit_lines, decisions, loans
from tests.conftest import initialise
from tests.helpers import dump, run_yaml
from tests.test_applications import _setup, small_policy


def shared_limit_policy() -> dict[str, Any]:
    """The small policy, with each ant line granted 8000.00 under one 10000.00 borrower limit."""
    policy = small_policy("ant-shared-1")
    offer = policy["decisions"]["application"]["nodes"][2]["content"]
    offer["outputs"].append({"id": "o_cap", "name": "cap", "field": "borrower_limit_fen"})
    for rule in offer["rules"]:
        rule["o_limit_fen"] = "800000" if rule["o_outcome"] == '"approve"' else "0"
        rule["o_cap"] = "1000000" if rule["o_outcome"] == '"approve"' else ""
    return policy


def _stored(engine: sa.Engine) -> list[tuple[str, str, str]]:
    d = decisions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(d.kind, d.outcome, d.reasons).order_by(d.decision_id)).all()
    return [
        (r.kind, r.outcome, json.loads(r.reasons)[0]["code"] if r.reasons != "[]" else "")
        for r in rows
    ]


def test_lines_of_a_group_share_the_borrower_limit(engine: sa.Engine) -> None:
    _setup(engine, {"ning": 800_000}, shared_limit_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        apply(ctx, "ning", "huabei")
        apply(ctx, "ning", "jiebei")
        cap = conn.execute(sa.select(borrower_limits.c.limit_fen)).scalar_one()
        limits = conn.execute(sa.select(credit_lines.c.limit_fen)).scalars().all()
        spent, _ = authorised_purchase(ctx, "ning", "huabei", 600_000)
        # 6000.00 used of 10000.00: a 5000.00 draw fits the Jiebei line but not the group
        refused, no_loan = authorised_draw(ctx, "ning", "jiebei", 500_000, 3, "equal_installment")
        granted, loan = authorised_draw(ctx, "ning", "jiebei", 400_000, 3, "equal_installment")
    assert (cap, sorted(limits)) == (1_000_000, [800_000, 800_000])
    assert spent.authorised
    assert (refused.authorised, refused.code, no_loan) == (False, "group_limit_exceeded", None)
    assert "10000.00" in refused.reasons[0].text and "6000.00 in use" in refused.reasons[0].text
    assert granted.authorised and loan is not None
    assert _stored(engine)[-3:] == [
        ("authorisation", "authorised", ""),
        ("authorisation", "refused", "group_limit_exceeded"),
        ("authorisation", "authorised", ""),
    ]
    with engine.connect() as conn:
        principals = (
            conn.execute(sa.select(loans.c.principal_fen).where(loans.c.kind != "revolving"))
            .scalars()
            .all()
        )
    assert principals == [400_000]


def test_a_line_that_is_not_active_or_too_small_refuses(engine: sa.Engine) -> None:
    _setup(engine, {"ning": 800_000}, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        apply(ctx, "ning", "huabei")
        too_much, _ = authorised_purchase(ctx, "ning", "huabei", 800_001)
        conn.execute(sa.update(credit_lines).values(status="frozen"))
        frozen, _ = authorised_purchase(ctx, "ning", "huabei", 100)
    assert (too_much.code, frozen.code) == ("insufficient_limit", "line_not_active")
    assert "8000.00" in too_much.reasons[0].text
    assert "frozen" in frozen.reasons[0].text


def test_bad_input_writes_no_decision(engine: sa.Engine) -> None:
    _setup(engine, {"ning": 800_000}, small_policy())
    with engine.begin() as conn:
        apply(open_context(conn), "ning", "jiebei")
    before = dump(engine)
    for attempt, field in [
        (lambda ctx: authorised_draw(ctx, "ning", "jiebei", 0, 3, "equal_installment"), "amount"),
        (
            lambda ctx: authorised_draw(ctx, "ning", "jiebei", 1000, 7, "equal_installment"),
            "term_months",
        ),
        (lambda ctx: authorised_purchase(ctx, "ning", "jiebei", 1000), "product"),
    ]:
        with pytest.raises(InputError) as caught, engine.begin() as conn:
            attempt(open_context(conn))
        assert caught.value.field == field
        assert dump(engine) == before


OVERDUE_IN_ANT = """
start: 2026-03-03
catalog: default
borrowers:
  - {id: ning, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, open_line: {borrower: ning, product: huabei, limit: "5000.00"}}
  - date: 2026-03-03
    open_line: {borrower: ning, product: jiebei, limit: "20000.00", daily_rate: "0.0003"}
  - date: 2026-03-03
    open_line: {borrower: ning, product: weilidai, limit: "20000.00", daily_rate: "0.0003"}
  - {date: 2026-03-15, purchase: {borrower: ning, product: huabei, amount: "1000.00"}}
  - date: 2026-04-20
    draw: {borrower: ning, product: jiebei, amount: "2000.00",
           term_months: 3, method: equal_installment}
  - date: 2026-04-20
    draw: {borrower: ning, product: weilidai, amount: "2000.00",
           term_months: 5, method: equal_principal}
  - {date: 2026-04-21, repay: {borrower: ning, product: huabei, amount: all, key: ning-0421}}
  - date: 2026-04-21
    draw: {borrower: ning, product: jiebei, amount: "2000.00",
           term_months: 3, method: equal_installment}
end: 2026-04-21
"""


def test_an_overdue_huabei_stops_jiebei_at_once_but_not_weilidai(engine: sa.Engine) -> None:
    outcome = run_yaml(engine, OVERDUE_IN_ANT)
    draws = [e for e in outcome["events"] if e["type"] == "draw"]
    assert [(e["date"], e["product"], e["ok"]) for e in draws] == [
        ("2026-04-20", "jiebei", False),
        ("2026-04-20", "weilidai", True),
        ("2026-04-21", "jiebei", True),
    ]
    # ant's nightly review paused the whole group when Huabei went past its grace
    assert draws[0]["code"] == "line_not_active"
    assert "paused" in draws[0]["reason"]
    assert outcome["ledger"]["balanced"]
    with engine.connect() as conn:
        refused = conn.execute(
            sa.select(decisions.c.inputs).where(decisions.c.outcome == "refused")
        ).scalar_one()
    assert json.loads(refused)["group_overdue_lines"] == 1
    assert Decimal(draws[1]["apr"]) > 0


def test_the_group_policy_refuses_while_another_line_is_overdue(engine: sa.Engine) -> None:
    policy = small_policy("ant-authorise-1")
    authorise_table = {
        "id": "authorise",
        "type": "decisionTableNode",
        "name": "Authorise",
        "content": {
            "hitPolicy": "first",
            "outputPath": "authorise",
            "inputs": [{"id": "g", "name": "overdue", "field": "group_overdue_lines"}],
            "outputs": [
                {"id": "o", "name": "outcome", "field": "outcome"},
                {"id": "r", "name": "reason", "field": "reason"},
            ],
            "rules": [
                {"_id": "late", "g": "> 0", "o": '"decline"', "r": '"overdue"'},
                {"_id": "ok", "g": "", "o": '"approve"', "r": ""},
            ],
        },
    }
    policy["decisions"]["authorisation"] = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "in"},
            authorise_table,
            {"id": "out", "type": "outputNode", "name": "out"},
        ],
        "edges": [
            {"id": "a", "sourceId": "in", "targetId": "authorise"},
            {"id": "b", "sourceId": "authorise", "targetId": "out"},
        ],
    }
    _setup(engine, {"ning": 800_000}, policy)
    with engine.begin() as conn:
        ctx = open_context(conn)
        apply(ctx, "ning", "huabei", requested_limit_fen=200_000)
        apply(ctx, "ning", "jiebei", requested_limit_fen=200_000)
        # Huabei 3 days past due is within its grace: still on time
        conn.execute(
            sa.update(credit_lines).where(credit_lines.c.product == "huabei").values(dpd=3)
        )
        in_grace, _ = authorised_draw(ctx, "ning", "jiebei", 10_000, 3, "equal_installment")
        conn.execute(
            sa.update(credit_lines).where(credit_lines.c.product == "huabei").values(dpd=4)
        )
        late, _ = authorised_draw(ctx, "ning", "jiebei", 10_000, 3, "equal_installment")
    assert in_grace.authorised
    assert (late.authorised, late.code, late.reasons[0].text) == (
        False,
        "overdue",
        "You are overdue now.",
    )


def test_an_unscored_borrower_is_scored_from_the_view(engine: sa.Engine) -> None:
    initialise(engine, date(2026, 3, 3))
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "ning", 800_000)
        open_line(ctx, "ning", "jiebei", 1_000_000, Decimal("0.0003"))
        granted, _ = authorised_draw(ctx, "ning", "jiebei", 100_000, 3, "equal_installment")
        score = conn.execute(sa.select(decisions.c.score)).scalar_one()
    assert granted.authorised
    assert 350 <= score <= 950
