"""Installment kernels (recognition, penalty accrual, ageing) on hand-built ROW_SCHEMA frames.

Conventions under test (DOMAIN §2): a penalty accrues for each day D+1 … T, half-up to
the fen per day; DPD on T = T − D of the oldest installment with anything unpaid at the
end of T, else 0; within grace_days the loan still counts as current.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.kernels.frames import PAIR_COLUMNS, ROW_SCHEMA
from crossline.kernels.installments import (
    LOAN_AGEING_SCHEMA,
    loan_ageing,
    penalty_accrual,
    recognition,
)

DAY = date(2026, 3, 12)


def row(installment_id: int, **overrides: Any) -> dict[str, Any]:
    """One installment row with neutral defaults (nothing owed, nothing paid)."""
    base: dict[str, Any] = {
        "installment_id": installment_id,
        "loan_id": 10,
        "credit_line_id": 20,
        "borrower_id": "b-1",
        "shard": 3,
        "product": "jiebei",
        "loan_kind": "cash",
        "seq": 1,
        "due_date": DAY,
        "principal_fen": 0,
        "interest_fen": 0,
        "fee_fen": 0,
        "penalty_fen": 0,
        "paid_principal_fen": 0,
        "paid_interest_fen": 0,
        "paid_fee_fen": 0,
        "paid_penalty_fen": 0,
        "interest_recognised_fen": 0,
        "fee_recognised_fen": 0,
        "shadow_interest_fen": 0,
        "billed_on": None,
        "penalty_rate_units": 9_000_000,  # 0.0006/day × 1.5 = 0.0009/day
        "penalty_base": "principal",
        "grace_days": 0,
    }
    unknown = set(overrides) - set(base)
    assert not unknown, unknown
    base.update(overrides)
    return base


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ROW_SCHEMA)


def _pairs_by(pairs: pl.DataFrame, key: str = "event") -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in pairs.iter_rows(named=True):
        out.setdefault(r[key], []).append(r)
    return out


# --- recognition ----------------------------------------------------------------------


def test_recognition_posts_the_unrecognised_part_of_rows_due_that_day() -> None:
    rows = frame(
        # Due today, nothing recognised: interest 74.40 and fee 5.00 become receivable.
        row(1, loan_id=11, interest_fen=7440, fee_fen=500),
        # Due today, partly recognised by a prepayment: 7440 − 2000 = 5440; fee 500 − 200 = 300.
        row(2, loan_id=12, interest_fen=7440, interest_recognised_fen=2000, fee_fen=500,
            fee_recognised_fen=200),
        # Due today, already fully recognised: nothing.
        row(3, loan_id=13, interest_fen=7440, interest_recognised_fen=7440),
        # Due yesterday and tomorrow: not this day's business.
        row(4, loan_id=14, due_date=DAY - timedelta(days=1), interest_fen=999, fee_fen=9),
        row(5, loan_id=15, due_date=DAY + timedelta(days=1), interest_fen=888, fee_fen=8),
    )  # fmt: skip
    pairs, updates = recognition(rows, DAY)

    assert pairs.columns == PAIR_COLUMNS
    interest = {r["loan_id"]: r for r in pairs.filter(pl.col("event") == "interest_due").to_dicts()}
    fees = {r["loan_id"]: r for r in pairs.filter(pl.col("event") == "fee_due").to_dicts()}
    assert {k: r["amount_fen"] for k, r in interest.items()} == {11: 7440, 12: 5440}
    assert {k: r["amount_fen"] for k, r in fees.items()} == {11: 500, 12: 300}
    assert len(pairs) == 4

    for r in interest.values():
        assert (r["debit"], r["credit"]) == ("interest_receivable", "interest_income")
    for r in fees.values():
        assert (r["debit"], r["credit"]) == ("fee_receivable", "fee_income")
    for r in pairs.to_dicts():
        assert r["business_date"] == DAY
        assert (r["borrower_id"], r["shard"], r["credit_line_id"]) == ("b-1", 3, 20)
        assert r["amount_fen"] > 0

    got = {r["installment_id"]: r for r in updates.to_dicts()}
    assert set(got) == {1, 2}
    assert got[1]["interest_recognised_fen"] == 7440
    assert got[1]["fee_recognised_fen"] == 500
    assert got[2]["interest_recognised_fen"] == 7440
    assert got[2]["fee_recognised_fen"] == 500


def test_recognition_fee_only_and_interest_only() -> None:
    rows = frame(
        row(1, loan_id=11, interest_fen=0, fee_fen=150),  # merchant-style fee only
        row(2, loan_id=12, interest_fen=300, fee_fen=0),
    )
    pairs, _ = recognition(rows, DAY)
    got = sorted((r["loan_id"], r["event"], r["amount_fen"]) for r in pairs.to_dicts())
    assert got == [(11, "fee_due", 150), (12, "interest_due", 300)]


def test_recognition_nothing_due() -> None:
    rows = frame(row(1, due_date=DAY + timedelta(days=30), interest_fen=100, fee_fen=100))
    pairs, updates = recognition(rows, DAY)
    assert pairs.is_empty()
    assert updates.is_empty()


# --- penalty_accrual ------------------------------------------------------------------


def _accrual(pairs: pl.DataFrame) -> dict[int, tuple[int, int]]:
    """loan_id -> (amount, basis)."""
    return {r["loan_id"]: (r["amount_fen"], r["basis_fen"]) for r in pairs.to_dicts()}


def test_penalty_accrual_hand_figures() -> None:
    yesterday = DAY - timedelta(days=1)
    rows = frame(
        # Principal base: unpaid principal 120000 − 20000 = 100000; unpaid interest ignored.
        # 1000.00 yuan × 0.0009 = 0.90 yuan = 90 fen.
        row(1, loan_id=1, due_date=date(2026, 3, 10), principal_fen=120_000,
            paid_principal_fen=20_000, interest_fen=7440, penalty_fen=180),
        # Installment base: principal 8000 − 1000 + interest 1500 − 500 + fee 1000 − 0 = 9000;
        # unpaid penalty 77 not included. 90.00 yuan × 0.0005 = 4.5 fen -> 5 (half-up).
        row(2, loan_id=2, due_date=yesterday, penalty_base="installment",
            penalty_rate_units=5_000_000, principal_fen=8000, paid_principal_fen=1000,
            interest_fen=1500, paid_interest_fen=500, fee_fen=1000, penalty_fen=77),
        # DOMAIN worked figure: 976.56 yuan × 0.0006 = 58.5936 fen -> 59.
        row(3, loan_id=3, due_date=date(2026, 1, 1), principal_fen=97_656,
            penalty_rate_units=6_000_000),
        # Due today: on time until the end of the day, no penalty yet.
        row(4, loan_id=4, due_date=DAY, principal_fen=50_000),
        # Due later.
        row(5, loan_id=5, due_date=DAY + timedelta(days=5), principal_fen=50_000),
        # Overdue but fully paid: no pair.
        row(6, loan_id=6, due_date=yesterday, principal_fen=50_000, paid_principal_fen=50_000,
            interest_fen=300, paid_interest_fen=300, fee_fen=10, paid_fee_fen=10),
        # Principal base with principal paid and interest still unpaid: interest does not
        # compound, base 0, no pair.
        row(7, loan_id=7, due_date=yesterday, principal_fen=50_000, paid_principal_fen=50_000,
            interest_fen=300),
        # Revolving rows are handled by the statement rules, not here.
        row(8, loan_id=8, due_date=yesterday, loan_kind="revolving", principal_fen=50_000,
            penalty_base="installment"),
        # Tiny base: 1 fen × 0.0009 = 0.0009 fen -> 0, no pair.
        row(9, loan_id=9, due_date=yesterday, principal_fen=1),
    )  # fmt: skip
    pairs, updates = penalty_accrual(rows, DAY)

    assert pairs.columns == PAIR_COLUMNS
    assert _accrual(pairs) == {1: (90, 100_000), 2: (5, 9000), 3: (59, 97_656)}
    for r in pairs.to_dicts():
        assert r["event"] == "penalty_accrual"
        assert (r["debit"], r["credit"]) == ("penalty_receivable", "penalty_income")
        assert r["business_date"] == DAY

    # Updates carry the new cumulative penalty: 180 + 90, 77 + 5, 0 + 59.
    assert {r["installment_id"]: r["penalty_fen"] for r in updates.to_dicts()} == {
        1: 270,
        2: 82,
        3: 59,
    }


def test_penalty_starts_the_day_after_due() -> None:
    due = date(2026, 2, 28)
    rows = frame(row(1, due_date=due, principal_fen=100_000))
    # D itself: nothing. D+1: 100000 × 0.0009 = 90 fen.
    assert penalty_accrual(rows, due)[0].is_empty()
    assert _accrual(penalty_accrual(rows, due + timedelta(days=1))[0]) == {10: (90, 100_000)}


def test_installment_base_merchant_figure() -> None:
    # Fenqile-style: overdue installment 3000 principal + 60 fee = 3060 fen at 0.0005/day
    # = 1.53 fen -> 2 fen.
    rows = frame(
        row(1, due_date=DAY - timedelta(days=2), principal_fen=3000, fee_fen=60,
            penalty_base="installment", penalty_rate_units=5_000_000),
    )  # fmt: skip
    assert _accrual(penalty_accrual(rows, DAY)[0]) == {10: (2, 3060)}


PRINCIPAL = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def _penalty_rows(draw: st.DrawFn) -> dict[str, Any]:
    principal = draw(PRINCIPAL)
    interest = draw(st.integers(min_value=0, max_value=100_000))
    fee = draw(st.integers(min_value=0, max_value=100_000))
    return row(
        draw(st.integers(min_value=1, max_value=10**9)),
        due_date=DAY - timedelta(days=draw(st.integers(min_value=-5, max_value=400))),
        principal_fen=principal,
        paid_principal_fen=draw(st.integers(min_value=0, max_value=principal)),
        interest_fen=interest,
        paid_interest_fen=draw(st.integers(min_value=0, max_value=interest)),
        fee_fen=fee,
        paid_fee_fen=draw(st.integers(min_value=0, max_value=fee)),
        penalty_fen=draw(st.integers(min_value=0, max_value=10_000)),
        penalty_rate_units=draw(st.integers(min_value=0, max_value=20_000_000)),
        penalty_base=draw(st.sampled_from(["principal", "installment"])),
        loan_kind=draw(st.sampled_from(["cash", "merchant", "revolving"])),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(_penalty_rows(), min_size=1, max_size=8, unique_by=lambda r: r["installment_id"]))
def test_penalty_accrual_matches_decimal(rows: list[dict[str, Any]]) -> None:
    for i, r in enumerate(rows):
        r["loan_id"] = i  # one row per loan_id so pairs can be matched back
    pairs, updates = penalty_accrual(frame(*rows), DAY)

    expected: dict[int, tuple[int, int]] = {}
    expected_updates: dict[int, int] = {}
    for r in rows:
        if r["due_date"] >= DAY or r["loan_kind"] == "revolving":
            continue
        base = r["principal_fen"] - r["paid_principal_fen"]
        if r["penalty_base"] == "installment":
            base += (r["interest_fen"] - r["paid_interest_fen"]) + (
                r["fee_fen"] - r["paid_fee_fen"]
            )
        rate = Decimal(r["penalty_rate_units"]) / Decimal(10**10)
        amount = int((Decimal(base) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if amount > 0:
            expected[r["loan_id"]] = (amount, base)
            expected_updates[r["installment_id"]] = r["penalty_fen"] + amount

    assert _accrual(pairs) == expected
    assert {u["installment_id"]: u["penalty_fen"] for u in updates.to_dicts()} == expected_updates


# --- loan_ageing ----------------------------------------------------------------------


def _ages(rows: pl.DataFrame, day: date) -> dict[int, tuple[int, int]]:
    out = loan_ageing(rows, day)
    assert out.schema == LOAN_AGEING_SCHEMA
    assert out["loan_id"].is_unique().all()
    return {r["loan_id"]: (r["dpd"], r["counted_dpd"]) for r in out.to_dicts()}


def test_loan_ageing_hand_figures() -> None:
    rows = frame(
        # Loan 1: January paid; February only its penalty is unpaid; March unpaid.
        # Oldest with anything unpaid is 2026-02-10: DPD = 2026-03-12 − 2026-02-10 = 30.
        row(1, loan_id=1, seq=1, due_date=date(2026, 1, 10), principal_fen=1000,
            paid_principal_fen=1000, penalty_fen=20, paid_penalty_fen=20),
        row(2, loan_id=1, seq=2, due_date=date(2026, 2, 10), principal_fen=1000,
            paid_principal_fen=1000, interest_fen=50, paid_interest_fen=50, penalty_fen=30),
        row(3, loan_id=1, seq=3, due_date=date(2026, 3, 10), principal_fen=1000),
        # Loan 2: grace 3, due 2026-03-09 unpaid: DPD 3 ≤ grace -> counted 0.
        row(4, loan_id=2, due_date=date(2026, 3, 9), principal_fen=1000, grace_days=3),
        # Loan 3: grace 3, due 2026-03-08 unpaid: DPD 4 > grace -> counted 4.
        row(5, loan_id=3, due_date=date(2026, 3, 8), fee_fen=100, grace_days=3),
        # Loan 4: due today unpaid: DPD 0.
        row(6, loan_id=4, due_date=DAY, principal_fen=1000),
        # Loan 5: only an unpaid row due later: ignored, DPD 0.
        row(7, loan_id=5, due_date=DAY + timedelta(days=1), principal_fen=1000),
        # Loan 6: everything paid: DPD 0.
        row(8, loan_id=6, due_date=date(2026, 1, 1), principal_fen=1000,
            paid_principal_fen=1000),
        # Loan 7: grace 0 and one day late: counted 1.
        row(9, loan_id=7, due_date=DAY - timedelta(days=1), interest_fen=1),
    )  # fmt: skip
    ages = _ages(rows, DAY)
    assert ages[1] == (30, 30)
    assert ages[2] == (3, 0)
    assert ages[3] == (4, 4)
    assert ages[7] == (1, 1)
    # DPD 0 loans: either reported as 0 or not reported at all.
    for loan in (4, 5, 6):
        assert ages.get(loan, (0, 0)) == (0, 0)


def test_loan_ageing_across_a_leap_day_and_year() -> None:
    # 2028-03-01 − 2028-02-28 = 2 days (29 February exists); 2027-01-02 − 2026-12-31 = 2.
    rows = frame(
        row(1, loan_id=1, due_date=date(2028, 2, 28), principal_fen=1),
        row(2, loan_id=2, due_date=date(2026, 12, 31), principal_fen=1),
    )
    assert _ages(rows, date(2028, 3, 1))[1] == (2, 2)
    assert _ages(rows, date(2027, 1, 2))[2] == (2, 2)


@st.composite
def _loan(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    grace = draw(st.integers(min_value=0, max_value=5))
    n = draw(st.integers(min_value=1, max_value=6))
    first = DAY - timedelta(days=draw(st.integers(min_value=-40, max_value=200)))
    rows = []
    for k in range(n):
        owes = draw(st.booleans())
        component = draw(st.sampled_from(["principal", "interest", "fee", "penalty"]))
        amounts = {f"{component}_fen": 500, f"paid_{component}_fen": 0 if owes else 500}
        rows.append(
            row(k + 1, loan_id=1, seq=k + 1, due_date=first + timedelta(days=30 * k),
                grace_days=grace, **amounts)
        )  # fmt: skip
    return rows, grace


@settings(max_examples=60, deadline=None)
@given(_loan())
def test_loan_ageing_property(case: tuple[list[dict[str, Any]], int]) -> None:
    rows, grace = case
    unpaid_due = [
        r["due_date"]
        for r in rows
        if r["due_date"] <= DAY
        and any(
            r[f"{c}_fen"] > r[f"paid_{c}_fen"] for c in ("principal", "interest", "fee", "penalty")
        )
    ]
    dpd = (DAY - min(unpaid_due)).days if unpaid_due else 0
    counted = dpd if dpd > grace else 0
    assert _ages(frame(*rows), DAY).get(1, (0, 0)) == (dpd, counted)
