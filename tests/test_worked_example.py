"""The worked example of the servicing conventions (issue 2, DOMAIN §2), to the fen.

Expected figures are computed here with Decimal from the conventions' text,
never taken from crossline's own output.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from tests.helpers import line_of, run_example, yuan

RATE = Decimal("0.0004")
PENALTY_RATE = RATE * Decimal("1.5")


def test_worked_example_to_the_fen(engine: sa.Engine) -> None:
    outcome = run_example(engine, "weilidai_overdue_then_repaid")
    first_interest = Decimal(6000) * RATE * 31
    assert first_interest == Decimal("74.40")
    daily_penalty = Decimal(1200) * PENALTY_RATE
    assert yuan(daily_penalty) == "0.72"
    penalty_before_payment = 3 * Decimal(yuan(daily_penalty))
    principal_paid = Decimal(300) - penalty_before_payment - first_interest

    repay = next(e for e in outcome["events"] if e["type"] == "repay")
    assert repay["ok"] is True
    assert repay["allocated"] == {
        "penalty": yuan(penalty_before_payment),
        "fee": "0.00",
        "interest": "74.40",
        "principal": yuan(principal_paid),
    }
    assert yuan(principal_paid) == "223.44"

    after = line_of(outcome["snapshots"]["after_repay"], "bob", "weilidai")
    first = after["loans"][0]["schedule"][0]
    assert first["due_date"] == "2026-04-01"
    assert (first["principal"], first["interest"]) == ("1200.00", "74.40")
    assert first["paid"] == {
        "principal": "223.44",
        "interest": "74.40",
        "fee": "0.00",
        "penalty": "2.16",
    }
    assert after["dpd"] == 4

    # From 04-05's end-of-day the penalty accrues on 976.56 at 0.0006: 0.585936 -> 0.59,
    # for each of the 26 days 04-05 .. 04-30.
    unpaid = Decimal(1200) - principal_paid
    assert yuan(unpaid * PENALTY_RATE) == "0.59"
    final = line_of(outcome["final"], "bob", "weilidai")
    expected_penalty = penalty_before_payment + 26 * Decimal(yuan(unpaid * PENALTY_RATE))
    assert final["loans"][0]["schedule"][0]["penalty"] == yuan(expected_penalty)
    assert final["outstanding"]["penalty"] == yuan(expected_penalty - penalty_before_payment)
    assert final["dpd"] == (30 - 1)  # 04-30 − 04-01
    assert (final["bucket"], final["classification"], final["pboc_status"]) == (
        "M1",
        "special_mention",
        "1",
    )
    # Installment 2 (due 05-01) is recognised at 04-30's end-of-day: 4800 × 0.0004 × 30.
    assert final["outstanding"]["interest"] == yuan(Decimal(4800) * RATE * 30)
    assert final["outstanding"]["principal"] == yuan(Decimal(6000) - principal_paid)
    assert outcome["ledger"]["balanced"] is True


def test_overdue_events_are_emitted_once(engine: sa.Engine) -> None:
    outcome = run_example(engine, "weilidai_overdue_then_repaid")
    started = [e for e in outcome["events"] if e["type"] == "overdue_started"]
    assert [(e["date"], e["product"], e["dpd"]) for e in started] == [("2026-04-02", "weilidai", 1)]
    moves = [
        (e["date"], e["from_bucket"], e["to_bucket"])
        for e in outcome["events"]
        if e["type"] == "bucket_changed"
    ]
    assert moves == [("2026-04-02", "M0", "M1")]
