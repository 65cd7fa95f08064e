"""Revolving (Huabei) servicing on both backends, to the fen.

Rates from the default catalog (DOMAIN §6): revolving interest and overdue fee
0.05%/day, grace 3 days, statement on the 1st due the 10th, minimum 10%, bill
installments 3/6/9/12 months for 2.5/4.5/6.5/8.8% in total.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import sqlalchemy as sa

from crossline.kernels.frames import ROW_SCHEMA
from crossline.kernels.revolving import CYCLE_SCHEMA, PREVIOUS_SCHEMA, cut_statements
from crossline.money import rate_units
from tests.helpers import line_of, run_example, run_yaml, yuan

DAILY = Decimal("0.0005")


def _events(outcome: dict[str, object], kind: str) -> list[dict[str, object]]:
    return [e for e in outcome["events"] if e["type"] == kind]  # type: ignore[attr-defined,index]


def test_paid_in_full_by_the_due_date_costs_nothing(engine: sa.Engine) -> None:
    outcome = run_example(engine, "huabei_paid_in_full")
    statement = line_of(outcome["snapshots"]["statement"], "lin", "huabei")["statements"][0]
    assert statement == {
        "date": "2026-04-01",
        "due_date": "2026-04-10",
        "balance": "1500.00",
        "minimum_payment": yuan(Decimal(1500) / 10),
    }
    final = line_of(outcome["final"], "lin", "huabei")
    assert final["outstanding"] == {
        "principal": "0.00",
        "interest": "0.00",
        "penalty": "0.00",
        "fees": "0.00",
    }
    assert final["available"] == "5000.00"
    assert not _events(outcome, "paid_in_grace")
    # Nothing was owed on 1 May, so no statement was issued.
    assert [e["date"] for e in _events(outcome, "statement_issued")] == ["2026-04-01"]


def test_minimum_payment_keeps_the_line_current_and_bears_interest(engine: sa.Engine) -> None:
    outcome = run_example(engine, "huabei_minimum_payment")
    carried = Decimal(2000) - Decimal(200)
    daily_interest = Decimal(yuan(carried * DAILY))
    # Interest for 11..30 April (20 days) is charged on the 1 May statement.
    april_interest = 20 * daily_interest
    may = line_of(outcome["snapshots"]["may_statement"], "mei", "huabei")["statements"][1]
    assert may["balance"] == yuan(carried + april_interest)
    assert may["minimum_payment"] == yuan((carried + april_interest) / 10)
    final = line_of(outcome["final"], "mei", "huabei")
    assert (final["dpd"], final["bucket"], final["pboc_status"]) == (0, "M0", "N")
    # 1..5 May accrue on the same carried principal (interest does not compound).
    assert final["outstanding"]["interest"] == yuan(april_interest + 5 * daily_interest)
    assert final["outstanding"]["penalty"] == "0.00"
    assert not _events(outcome, "overdue_started")


def test_unpaid_past_grace_charges_the_fee_from_the_day_after_due(engine: sa.Engine) -> None:
    outcome = run_example(engine, "huabei_unpaid_past_grace")
    in_grace = line_of(outcome["snapshots"]["last_day_of_grace"], "ning", "huabei")
    assert (in_grace["dpd"], in_grace["bucket"], in_grace["outstanding"]["penalty"]) == (
        2,
        "M0",
        "0.00",
    )
    daily_fee = Decimal(yuan(Decimal(1000) * DAILY))
    final = line_of(outcome["final"], "ning", "huabei")
    assert final["outstanding"]["penalty"] == yuan(20 * daily_fee)  # 11..30 April
    assert (final["dpd"], final["bucket"], final["pboc_status"]) == (20, "M1", "1")
    started = _events(outcome, "overdue_started")
    assert [(e["date"], e["dpd"]) for e in started] == [("2026-04-14", 4)]
    may = final["statements"][1]
    past_due = Decimal(100)
    assert may["balance"] == yuan(Decimal(1000) + 20 * daily_fee)
    assert may["minimum_payment"] == yuan((Decimal(1000) + 20 * daily_fee) / 10 + past_due)


def test_minimum_met_within_grace_charges_interest_not_the_fee(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-03
borrowers: [{id: ou, monthly_income: "6000.00"}]
steps:
  - {date: 2026-03-03, open_line: {borrower: ou, product: huabei, limit: "5000.00"}}
  - {date: 2026-03-15, purchase: {borrower: ou, product: huabei, amount: "1000.00"}}
  - {date: 2026-04-12, repay: {borrower: ou, product: huabei, amount: "100.00"}}
end: 2026-04-20
""",
    )
    final = line_of(outcome["final"], "ou", "huabei")
    assert final["outstanding"]["penalty"] == "0.00"
    assert (final["dpd"], final["bucket"]) == (0, "M0")
    # Interest runs from 11 April on 1000.00 for 11 April only (paid during 12 April),
    # then on 900.00 from the end of 12 April through 20 April (9 days).
    expected = Decimal(yuan(Decimal(1000) * DAILY)) + 9 * Decimal(yuan(Decimal(900) * DAILY))
    assert final["outstanding"]["interest"] == yuan(expected)
    cured = _events(outcome, "paid_in_grace")
    assert [(e["date"], e["interest_charged"]) for e in cured] == [
        ("2026-04-12", yuan(Decimal(1000) * DAILY))
    ]
    assert outcome["ledger"]["balanced"] is True


def _converted_bill(converted_on: str, end: str) -> str:
    """A 3,000.00 Huabei bill (statement 1 April, due 10 April) turned into three monthly
    installments on ``converted_on`` and paid ``all_due`` on the due date."""
    return f"""
start: 2026-03-03
borrowers: [{{id: qi, monthly_income: "9000.00"}}]
steps:
  - {{date: 2026-03-03, open_line: {{borrower: qi, product: huabei, limit: "8000.00"}}}}
  - {{date: 2026-03-15, purchase: {{borrower: qi, product: huabei, amount: "3000.00"}}}}
  - {{date: {converted_on}, convert_statement: {{borrower: qi, product: huabei, months: 3}}}}
  - {{date: {converted_on}, snapshot: converted}}
  - {{date: 2026-04-10, repay: {{borrower: qi, product: huabei, amount: all_due}}}}
end: {end}
"""


def test_bill_installments_after_conversion(engine: sa.Engine) -> None:
    outcome = run_yaml(engine, _converted_bill("2026-04-05", end="2026-04-12"))
    converted = line_of(outcome["snapshots"]["converted"], "qi", "huabei")
    plan = converted["loans"][1]
    assert plan["kind"] == "bill_installment"
    total_fee = Decimal(3000) * Decimal("0.025")  # 75.00 over 3 months
    fees = [r["fee"] for r in plan["schedule"]]
    assert fees == ["25.00", "25.00", "25.00"] and sum(map(Decimal, fees)) == total_fee
    assert [r["principal"] for r in plan["schedule"]] == ["1000.00"] * 3
    assert [r["due_date"] for r in plan["schedule"]] == ["2026-04-10", "2026-05-10", "2026-06-10"]
    statement = converted["statements"][0]
    assert (statement["balance"], statement["minimum_payment"]) == ("1025.00", "1025.00")
    repay = next(e for e in outcome["events"] if e["type"] == "repay")
    assert repay["amount"] == "1025.00"
    final = line_of(outcome["final"], "qi", "huabei")
    assert (final["dpd"], final["outstanding"]["principal"]) == (0, "2000.00")
    assert outcome["ledger"]["balanced"] is True


def test_a_bill_converted_on_its_due_date_owes_its_first_fee_at_once(engine: sa.Engine) -> None:
    """The close before the due date recognises what falls due on it; a plan booked on
    the due date itself must recognise its first installment's fee then, or the
    restated minimum asks for a fee that is never owed and its payment comes up short."""
    outcome = run_yaml(engine, _converted_bill("2026-04-10", end="2026-04-20"))
    first_fee = Decimal(3000) * Decimal("0.025") / 3  # 25.00 of the 75.00 plan fee
    first_due = Decimal(1000) + first_fee
    statement = line_of(outcome["snapshots"]["converted"], "qi", "huabei")["statements"][0]
    assert statement["minimum_payment"] == yuan(first_due)
    repay = next(e for e in outcome["events"] if e["type"] == "repay")
    assert repay["amount"] == yuan(first_due)
    final = line_of(outcome["final"], "qi", "huabei")
    assert (final["dpd"], final["outstanding"]["fees"]) == (0, "0.00")
    assert not _events(outcome, "overdue_started")
    with engine.connect() as conn:
        fee_income = conn.execute(
            sa.text("SELECT -sum(amount_fen) FROM journal WHERE account = 'fee_income'")
        ).scalar()
    assert fee_income == int(first_fee * 100)
    assert outcome["ledger"]["balanced"] is True


def test_huabei_purchase_in_installments_is_billed_with_statements(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-03
borrowers: [{id: rui, monthly_income: "9000.00"}]
steps:
  - {date: 2026-03-03, open_line: {borrower: rui, product: huabei, limit: "8000.00"}}
  - {date: 2026-03-20, purchase: {borrower: rui, product: huabei, amount: "1200.00",
                                  installments: 6}}
  - {date: 2026-03-21, purchase: {borrower: rui, product: huabei, amount: "100.00"}}
end: 2026-04-02
""",
    )
    statement = line_of(outcome["final"], "rui", "huabei")["statements"][0]
    # Installment 1: 1200/6 = 200.00 principal + 1200 × 4.5% / 6 = 9.00 fee, due 10 April,
    # plus the 100.00 revolving purchase: minimum = 10% of 100.00 + 209.00.
    assert statement["balance"] == "309.00"
    assert statement["minimum_payment"] == "219.00"


def test_overpayment_becomes_a_credit_balance_that_pays_new_spending(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-03-03
borrowers: [{id: su, monthly_income: "9000.00"}]
steps:
  - {date: 2026-03-03, open_line: {borrower: su, product: huabei, limit: "8000.00"}}
  - {date: 2026-03-20, purchase: {borrower: su, product: huabei, amount: "100.00"}}
  - {date: 2026-03-21, repay: {borrower: su, product: huabei, amount: "130.00"}}
  - {date: 2026-03-21, snapshot: in_credit}
  - {date: 2026-03-22, purchase: {borrower: su, product: huabei, amount: "50.00"}}
  - {date: 2026-03-22, repay: {borrower: su, product: huabei, amount: "8030.01"}}
end: 2026-04-02
""",
    )
    repays = [e for e in outcome["events"] if e["type"] == "repay"]
    assert repays[0]["credit_added"] == "30.00"
    assert [e["ok"] for e in repays] == [True, False]  # above owed + limit
    in_credit = line_of(outcome["snapshots"]["in_credit"], "su", "huabei")
    assert (in_credit["credit_balance"], in_credit["available"]) == ("30.00", "8000.00")
    final = line_of(outcome["final"], "su", "huabei")
    # The 50.00 purchase used the 30.00 credit: 20.00 is billed on 1 April.
    assert final["credit_balance"] == "0.00"
    assert final["statements"][0]["balance"] == "20.00"
    assert final["outstanding"]["principal"] == "20.00"
    assert outcome["ledger"]["balanced"] is True


def test_statements_come_in_line_order_the_order_their_ids_are_given_in() -> None:
    """The cut inserts the kernel's rows as they come and the database numbers them, so
    the same book must give the same order; a grouping alone gives a different one
    from run to run."""
    lines = list(range(40, 0, -1))
    cycle = pl.DataFrame(
        {
            "installment_id": lines,
            "loan_id": lines,
            "credit_line_id": lines,
            "borrower_id": [f"b-{line}" for line in lines],
            "shard": [line % 4 for line in lines],
            "seq": [1] * len(lines),
            "due_date": [date(2026, 3, 10)] * len(lines),
            "principal_fen": [100 * line for line in lines],
        },
        schema_overrides=CYCLE_SCHEMA,
    ).with_columns(pl.lit(0, pl.Int64).alias(c) for c in list(CYCLE_SCHEMA)[8:])
    for _ in range(5):
        issued = cut_statements(
            pl.DataFrame(schema=ROW_SCHEMA),
            cycle.select(list(CYCLE_SCHEMA)).cast(CYCLE_SCHEMA),
            pl.DataFrame(schema={"credit_line_id": pl.Int64(), "amount": pl.Int64()}),
            pl.DataFrame(schema=PREVIOUS_SCHEMA),
            date(2026, 2, 1),
            date(2026, 2, 10),
            rate_units(Decimal("0.1")),
        )
        assert issued["credit_line_id"].to_list() == sorted(lines)
