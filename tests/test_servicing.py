"""Servicing commands on both backends: refusals, grace, prepayment, idempotency, write-off.

Expected money is computed in each test from the conventions (DOMAIN §2).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crossline.eod.runner import run_eod
from crossline.ledger.check import check_ledger
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.servicing.repayment import repay
from crossline.store import platform
from tests.conftest import initialise
from tests.helpers import dump, line_of, run_yaml, yuan

START = date(2026, 3, 1)


def _cash_loan(engine: sa.Engine, amount: int = 600000, method: str = "equal_principal") -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "bob", 900000)
        open_line(ctx, "bob", "weilidai", 3000000, Decimal("0.0004"))
        draw(ctx, "bob", "weilidai", amount, 5, method)


def test_refused_draw_leaves_the_database_unchanged(engine: sa.Engine) -> None:
    _cash_loan(engine)
    before = dump(engine)
    with (
        pytest.raises(RefusedError, match=r"exceeds the available limit 24000\.00"),
        engine.begin() as conn,
    ):
        draw(open_context(conn), "bob", "weilidai", 2400001, 5, "equal_principal")
    with pytest.raises(InputError, match="term_months"), engine.begin() as conn:
        draw(open_context(conn), "bob", "weilidai", 1000, 7, "equal_principal")
    with pytest.raises(InputError, match=r"^product"), engine.begin() as conn:
        draw(open_context(conn), "bob", "nosuch", 1000, 5, "equal_principal")
    with pytest.raises(RefusedError, match="exceeds everything owed"), engine.begin() as conn:
        repay(open_context(conn), "bob", "weilidai", 10**9)
    assert dump(engine) == before


def test_prepayment_keeps_the_term_and_charges_interest_to_the_day(engine: sa.Engine) -> None:
    _cash_loan(engine)
    run_eod(engine, date(2026, 3, 20))
    with engine.begin() as conn:
        result = repay(open_context(conn), "bob", "weilidai", 300000)
    # 20 days of interest on 6000.00 at 0.0004 (03-01 .. 03-21), then 3000.00 − that principal.
    accrued = Decimal(6000) * Decimal("0.0004") * 20
    assert result.as_dict()["allocated"]["interest"] == yuan(accrued)
    principal = Decimal(3000) - accrued
    assert result.as_dict()["allocated"]["principal"] == yuan(principal)
    left = Decimal(6000) - principal
    with engine.connect() as conn:
        from crossline.scenario.state import snapshot

        state = line_of(snapshot(conn, date(2026, 3, 21)), "bob", "weilidai")
    schedule = state["loans"][0]["schedule"]
    assert [r["due_date"] for r in schedule] == [
        "2026-04-01",
        "2026-05-01",
        "2026-06-01",
        "2026-07-01",
        "2026-08-01",
    ]
    share = (left * 100 // 5) / 100  # equal principal, rounded down to the fen
    last = left - 4 * share
    assert [r["principal"] for r in schedule] == [
        yuan(share + principal),
        yuan(share),
        yuan(share),
        yuan(share),
        yuan(last),
    ]
    # Installment 1 now charges the 20 prepaid days plus 11 days (03-21 .. 04-01) on what is left.
    assert schedule[0]["interest"] == yuan(accrued + Decimal(yuan(left * Decimal("0.0004") * 11)))
    assert schedule[1]["interest"] == yuan((left - share) * Decimal("0.0004") * 30)
    with engine.connect() as conn:
        assert check_ledger(conn).balanced


def test_pay_off_everything_closes_the_loan(engine: sa.Engine) -> None:
    _cash_loan(engine)
    run_eod(engine, date(2026, 3, 10))
    with engine.begin() as conn:
        result = repay(open_context(conn), "bob", "weilidai", "all")
    assert result.amount_fen == 600000 + int(6000 * 0.0004 * 10 * 100)
    assert result.loans_paid_off == [1]
    with engine.connect() as conn:
        ledger = check_ledger(conn)
    assert ledger.balanced


def test_fenqile_paid_within_grace_counts_as_on_time(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-05
borrowers: [{id: amy, monthly_income: "6000.00"}]
steps:
  - {date: 2026-03-05, open_line: {borrower: amy, product: fenqile, limit: "10000.00",
                                   monthly_fee_rate: "0.008"}}
  - {date: 2026-03-05, purchase: {borrower: amy, product: fenqile, amount: "3000.00",
                                  installments: 3, merchant: phone-shop}}
  - {date: 2026-04-08, snapshot: in_grace}
  - {date: 2026-04-08, repay: {borrower: amy, product: fenqile, amount: "1024.00"}}
end: 2026-04-10
""",
    )
    in_grace = line_of(outcome["snapshots"]["in_grace"], "amy", "fenqile")
    # Installment 1 (due 04-05): 1000.00 + fee 3000 × 0.008 = 24.00; overdue fee 0.05%/day
    # on 1024.00 = 0.512 -> 0.51 at the end-of-days of 04-06 and 04-07 (grace is 3 days).
    assert in_grace["outstanding"]["penalty"] == yuan(
        2 * Decimal(yuan(Decimal(1024) * Decimal("0.0005")))
    )
    assert (in_grace["dpd"], in_grace["bucket"], in_grace["pboc_status"]) == (2, "M0", "N")
    repaid = next(e for e in outcome["events"] if e["type"] == "repay")
    assert repaid["penalty_reversed"] == "1.02"
    assert repaid["allocated"] == {
        "penalty": "0.00",
        "fee": "24.00",
        "interest": "0.00",
        "principal": "1000.00",
    }
    final = line_of(outcome["final"], "amy", "fenqile")
    assert (final["dpd"], final["outstanding"]["penalty"]) == (0, "0.00")
    assert not [e for e in outcome["events"] if e["type"] == "overdue_started"]
    assert outcome["ledger"]["balanced"] is True


def test_fenqile_past_grace_is_overdue_from_the_day_after_due(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-05
borrowers: [{id: amy, monthly_income: "6000.00"}]
steps:
  - {date: 2026-03-05, open_line: {borrower: amy, product: fenqile, limit: "10000.00",
                                   monthly_fee_rate: "0.008"}}
  - {date: 2026-03-05, purchase: {borrower: amy, product: fenqile, amount: "3000.00",
                                  installments: 3}}
end: 2026-04-09
""",
    )
    final = line_of(outcome["final"], "amy", "fenqile")
    assert (final["dpd"], final["bucket"], final["pboc_status"]) == (4, "M1", "1")
    assert final["outstanding"]["penalty"] == yuan(4 * Decimal("0.51"))
    started = [e["date"] for e in outcome["events"] if e["type"] == "overdue_started"]
    assert started == ["2026-04-09"]


def test_idempotent_repayment_replays_without_posting(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-01
borrowers: [{id: bob, monthly_income: "9000.00"}]
steps:
  - {date: 2026-03-01, open_line: {borrower: bob, product: weilidai, limit: "30000.00"}}
  - {date: 2026-03-01, draw: {borrower: bob, product: weilidai, amount: "6000.00",
                              term_months: 5, method: equal_principal}}
  - {date: 2026-04-01, repay: {borrower: bob, product: weilidai, amount: "500.00", key: k1}}
  - {date: 2026-04-01, repay: {borrower: bob, product: weilidai, amount: "500.00", key: k1}}
  - {date: 2026-04-01, repay: {borrower: bob, product: weilidai, amount: "400.00", key: k1}}
end: 2026-04-01
""",
    )
    repays = [e for e in outcome["events"] if e["type"] == "repay"]
    assert [e["ok"] for e in repays] == [True, True, False]
    assert repays[1]["replayed"] is True and repays[1]["allocated"] == repays[0]["allocated"]
    assert repays[2]["code"] == "idempotency_conflict"
    line = line_of(outcome["final"], "bob", "weilidai")
    paid = line["loans"][0]["schedule"][0]["paid"]
    assert sum(Decimal(v) for v in paid.values()) == Decimal("500.00")


def test_write_off_at_180_days(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-01-01
borrowers: [{id: cat, monthly_income: "5000.00"}]
steps:
  - {date: 2026-01-01, open_line: {borrower: cat, product: jiebei, limit: "20000.00",
                                   daily_rate: "0.0005"}}
  - {date: 2026-01-01, draw: {borrower: cat, product: jiebei, amount: "3000.00",
                              term_months: 3, method: interest_first}}
end: 2026-08-05
""",
    )
    written = [e for e in outcome["events"] if e["type"] == "written_off"]
    # First installment due 02-01; DPD 180 on 2026-07-31.
    assert [e["date"] for e in written] == ["2026-07-31"]
    line = line_of(outcome["final"], "cat", "jiebei")
    assert (line["pboc_status"], line["classification"], line["status"]) == ("B", "loss", "frozen")
    assert line["outstanding"] == {
        "principal": "0.00",
        "interest": "0.00",
        "penalty": "0.00",
        "fees": "0.00",
    }
    assert line["dpd"] == 180
    assert outcome["ledger"]["balanced"] is True


def test_journal_refuses_updates_and_deletes(engine: sa.Engine) -> None:
    _cash_loan(engine)
    for statement in ("UPDATE journal SET amount_fen = 0", "DELETE FROM journal"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(statement)


def test_ledger_check_finds_a_tampered_subledger(engine: sa.Engine) -> None:
    _cash_loan(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE installments SET paid_principal_fen = 1 WHERE seq = 2")
        result = check_ledger(conn)
    assert not result.balanced
    assert [(m.loan_id, m.account, m.journal_fen, m.subledger_fen) for m in result.mismatches] == [
        (1, "loan_principal", 600000, 599999)
    ]


def test_commands_wait_while_the_business_date_is_closing(engine: sa.Engine) -> None:
    """From the moment today's end-of-day begins, a command dated today could land in a
    partition already closed: it is refused until the close opens tomorrow. A close
    that crashed half-way leaves the day closing, so commands wait for its rerun."""
    today = date(2026, 3, 2)
    initialise(engine, today, partitions=2)
    with engine.begin() as conn:
        assert open_context(conn).today == today
        platform.begin_close(conn)
    with engine.begin() as conn, pytest.raises(RefusedError) as refused:
        open_context(conn)
    assert refused.value.code == "eod_in_progress"
    with engine.begin() as conn:
        platform.finish_close(conn, date(2026, 3, 3))
    with engine.begin() as conn:
        assert open_context(conn).today == date(2026, 3, 3)
