"""Account management with the shipped policies: severity-aware actions on every line.

The lines are opened with explicit limits (not through applications), so each
new limit below is computed here from the policy's documented rule: a short
overdue paid restores 80% of the granted limit, a long one 50%, each clean
month after the second restores a quarter more up to the granted limit, and
webank halves a line once after the bureau shows a 31+ day late payment.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from crossline.store.schema import decisions, notifications
from tests.helpers import run_yaml

HEADER = """
start: 2026-03-03
catalog: default
borrowers:
  - {id: ning, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, open_line: {borrower: ning, product: huabei, limit: "5000.00"}}
  - date: 2026-03-03
    open_line: {borrower: ning, product: jiebei, limit: "20000.00", daily_rate: "0.0003"}
  - date: 2026-03-03
    open_line: {borrower: ning, product: weilidai, limit: "10000.00", daily_rate: "0.0003"}
  - {date: 2026-03-15, purchase: {borrower: ning, product: huabei, amount: "1000.00"}}
"""


def _changes(outcome: dict[str, Any]) -> list[tuple[str, str, str, str, int, str]]:
    """(date, product, action, status, limit in fen, reason) of every limit change."""
    result = []
    for event in outcome["events"]:
        if event["type"] != "limit_changed":
            continue
        result.append(
            (
                event["date"],
                event["product"],
                event["action"],
                event["status"],
                event["limit_fen"],
                event["reason"],
            )
        )
    return result


def test_a_short_overdue_pauses_the_group_then_restores_step_by_step(engine: sa.Engine) -> None:
    scenario = (
        HEADER
        + """
  - {date: 2026-04-20, repay: {borrower: ning, product: huabei, amount: all, key: k1}}
end: 2026-07-02
"""
    )
    changes = _changes(run_yaml(engine, scenario))
    # due 10 April, 3 days' grace: overdue from the 14th, paused from the 15th
    assert changes == [
        ("2026-04-15", "huabei", "pause", "paused", 500_000, "overdue_now"),
        ("2026-04-15", "jiebei", "pause", "paused", 2_000_000, "overdue_in_group"),
        ("2026-04-20", "huabei", "restore", "active", 400_000, "restored_after_cure"),
        ("2026-04-20", "jiebei", "restore", "active", 1_600_000, "restored_after_cure"),
        # June: two months after the late month (April), a quarter more, capped at granted
        ("2026-06-01", "huabei", "restore", "active", 500_000, "clean_months"),
        ("2026-06-01", "jiebei", "restore", "active", 2_000_000, "clean_months"),
    ]
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(decisions.c.outcome, decisions.c.policy_version, decisions.c.reasons)
            .where(decisions.c.kind == "review")
            .order_by(decisions.c.decision_id)
        ).all()
        notices = conn.execute(
            sa.select(sa.func.count()).where(notifications.c.kind == "limit_changed")
        ).scalar_one()
    assert [s.outcome for s in stored] == [c[2] for c in changes]
    assert {s.policy_version for s in stored} == {"ant-default-1"}
    assert json.loads(stored[0].reasons)[0]["code"] == "overdue_now"
    assert json.loads(stored[0].reasons)[0]["text"]
    assert notices == len(changes)


def test_a_long_overdue_freezes_and_a_late_payment_restores_half(engine: sa.Engine) -> None:
    scenario = (
        HEADER
        + """
  - {date: 2026-06-20, repay: {borrower: ning, product: huabei, amount: all, key: k1}}
end: 2026-06-21
"""
    )
    changes = _changes(run_yaml(engine, scenario))
    huabei = [c for c in changes if c[1] == "huabei"]
    assert [c[2] for c in huabei] == ["pause", "freeze", "restore"]
    # due 10 April: DPD 61 on 10 June, frozen from the 11th
    assert huabei[1][0] == "2026-06-11"
    assert huabei[2][3:5] == ("active", 250_000)


def test_two_ant_lines_unpaid_cancel_eligibility(engine: sa.Engine) -> None:
    scenario = (
        HEADER
        + """
  - date: 2026-03-20
    draw: {borrower: ning, product: jiebei, amount: "3000.00",
           term_months: 3, method: equal_installment}
end: 2026-05-25
"""
    )
    changes = _changes(run_yaml(engine, scenario))
    closed = [c for c in changes if c[2] == "close"]
    assert {c[1] for c in closed} == {"huabei", "jiebei"}
    assert {c[5] for c in closed} == {"several_products_unsettled"}
    # webank's line is another group's: an ant overdue does not close it
    assert all(c[1] != "weilidai" or c[2] != "close" for c in changes)


def test_webank_halves_its_line_once_the_bureau_shows_the_huabei_overdue(
    engine: sa.Engine,
) -> None:
    scenario = (
        HEADER
        + """
  - {date: 2026-05-25, repay: {borrower: ning, product: huabei, amount: all, key: k1}}
end: 2026-06-03
"""
    )
    changes = _changes(run_yaml(engine, scenario))
    weilidai = [c for c in changes if c[1] == "weilidai"]
    # nothing before the May report (31 May) is visible to webank; after it, half
    assert weilidai == [
        ("2026-06-01", "weilidai", "reduce", "active", 500_000, "reported_delinquency")
    ]


def test_a_quiet_book_stores_no_review_decisions(engine: sa.Engine) -> None:
    scenario = """
start: 2026-03-03
catalog: default
borrowers:
  - {id: ming, monthly_income: "8000.00"}
steps:
  - {date: 2026-03-03, open_line: {borrower: ming, product: huabei, limit: "5000.00"}}
end: 2026-03-20
"""
    run_yaml(engine, scenario)
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(decisions.c.kind == "review")
        ).scalar_one()
    assert count == 0
