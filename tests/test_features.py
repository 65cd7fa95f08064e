"""The feature kernel on small hand-made views; every expected value is worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from typing import Any

import polars as pl
import pytest

from crossline.kernels.features import (
    ACCOUNT_SCHEMA,
    BORROWER_SCHEMA,
    FEATURE_SCHEMA,
    INQUIRY_SCHEMA,
    MONTH_SCHEMA,
    PAYMENT_SCHEMA,
    SPEND_SCHEMA,
    ViewFrames,
    build_features,
)

AS_OF = date(2026, 4, 15)
Rows = Sequence[dict[str, Any]]


def _frame(rows: Rows, schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schema)


def _view(
    borrowers: list[str] | None = None,
    *,
    accounts: Rows = (),
    months: Rows = (),
    inquiries: Rows = (),
    payments: Rows = (),
    spend: Rows = (),
    income: tuple[int, int | None] = (1_000_000, None),
) -> ViewFrames:
    ids = borrowers or ["b"]
    declared, verified = income
    return ViewFrames(
        accounts=_frame(list(accounts), ACCOUNT_SCHEMA),
        months=_frame(list(months), MONTH_SCHEMA),
        inquiries=_frame(list(inquiries), INQUIRY_SCHEMA),
        payments=_frame(list(payments), PAYMENT_SCHEMA),
        spend=_frame(list(spend), SPEND_SCHEMA),
        borrowers=_frame(
            [
                {
                    "borrower_id": b,
                    "shard": index,
                    "declared_income_fen": declared,
                    "verified_income_fen": verified,
                }
                for index, b in enumerate(ids)
            ],
            BORROWER_SCHEMA,
        ),
    )


def _history(levels: list[int], last: date = AS_OF, product: str = "p") -> list[dict[str, Any]]:
    """Month rows for ``levels``, the last of them in ``last``'s month."""
    count = len(levels)
    rows = []
    for i, level in enumerate(levels):
        back = count - 1 - i
        index = last.year * 12 + last.month - 1 - back
        month = date(index // 12, index % 12 + 1, 1)
        rows.append({"borrower_id": "b", "product": product, "month": month, "level": level})
    return rows


def _one(view: ViewFrames, as_of: date = AS_OF) -> dict[str, Any]:
    result = build_features(view, as_of)
    assert result.schema == FEATURE_SCHEMA
    assert result.height == 1
    return result.row(0, named=True)


def test_runs_of_overdue_months_and_worst_statuses() -> None:
    # Sep 2025 .. Apr 2026: bad in Oct, Nov and Jan, Feb, Mar.
    f = _one(_view(months=_history([0, 1, 1, 0, 2, 2, 2, 0])))
    assert f["overdue_months_consecutive_24m"] == 3
    assert f["overdue_months_cumulative_24m"] == 5
    assert f["lian_san_lei_liu"] is True
    assert (f["worst_status_3m"], f["worst_status_6m"], f["worst_status_24m"]) == (2, 2, 2)
    assert f["months_since_delinquency"] == 1  # March, and April is clean
    assert f["cured"] is True  # delinquent within 24 months, no account late now


def test_overdue_months_are_calendar_months_over_all_accounts() -> None:
    # Product a is late in Oct and Nov, product b in Nov and Dec: three calendar months.
    months = _history([1, 1, 0, 0, 0, 0, 0], product="a") + _history(
        [0, 1, 1, 0, 0, 0, 0], product="b"
    )
    f = _one(_view(months=months))
    assert f["overdue_months_consecutive_24m"] == 3
    assert f["overdue_months_cumulative_24m"] == 3
    assert f["months_since_delinquency"] == 4  # December 2025 to April 2026


@pytest.mark.parametrize(
    ("levels", "consecutive", "cumulative", "rule"),
    [
        ([1, 1, 0, 1, 1, 0, 1, 0], 2, 5, False),  # two short of both
        ([1, 1, 0, 1, 1, 0, 1, 1], 2, 6, True),  # 累六 without 连三
        ([0, 0, 1, 1, 1, 0], 3, 3, True),  # 连三 exactly
        ([3, 0, 1, 0, 4, 0], 1, 3, False),  # severity does not matter, only lateness
    ],
)
def test_lian_san_lei_liu_edges(
    levels: list[int], consecutive: int, cumulative: int, rule: bool
) -> None:
    f = _one(_view(months=_history(levels)))
    assert f["overdue_months_consecutive_24m"] == consecutive
    assert f["overdue_months_cumulative_24m"] == cumulative
    assert f["lian_san_lei_liu"] is rule


def test_month_windows_end_with_the_month_of_as_of() -> None:
    months = [
        # 24 months back is April 2024 (outside); 23 back is May 2024 (inside).
        {"borrower_id": "b", "product": "p", "month": date(2024, 4, 30), "level": 7},
        {"borrower_id": "b", "product": "p", "month": date(2024, 5, 1), "level": 4},
        # 3 back (January) is outside the 3-month window, 2 back (February) inside.
        {"borrower_id": "b", "product": "p", "month": date(2026, 1, 31), "level": 3},
        {"borrower_id": "b", "product": "p", "month": date(2026, 2, 1), "level": 1},
        # A month after as_of's is not history yet.
        {"borrower_id": "b", "product": "p", "month": date(2026, 5, 31), "level": 6},
    ]
    f = _one(_view(months=months))
    assert f["worst_status_3m"] == 1
    assert (f["worst_status_6m"], f["worst_status_12m"], f["worst_status_24m"]) == (3, 3, 4)
    assert f["overdue_months_cumulative_24m"] == 3  # May 2024, Jan 2026, Feb 2026
    assert f["overdue_months_consecutive_24m"] == 2
    assert f["months_since_delinquency"] == 2  # February
    # Only months that are past count: the 7 of April 2024 is 24 months back.
    assert _one(_view(months=months[:1]))["months_since_delinquency"] == 24
    assert _one(_view(months=months[:1]))["worst_status_24m"] == 0


ACCOUNTS = [
    {
        "borrower_id": "b",
        "product": "huabei",
        "own": True,
        "open": True,
        "opened_on": date(2024, 1, 31),
        "limit_fen": 1_000_000,
        "balance_fen": 250_000,
        "overdue_fen": 50_000,
        "level": 0,
        "dpd": 2,
    },
    {
        "borrower_id": "b",
        "product": "jiebei",
        "own": True,
        "open": True,
        "opened_on": date(2025, 5, 10),
        "limit_fen": 2_000_000,
        "balance_fen": 0,
        "overdue_fen": 0,
        "level": 0,
        "dpd": 0,
    },
    {
        "borrower_id": "b",
        "product": "weilidai",
        "own": False,
        "open": True,
        "opened_on": date(2023, 2, 28),
        "limit_fen": 3_000_000,
        "balance_fen": 1_500_000,
        "overdue_fen": 120_000,
        "level": 2,
        "dpd": None,
    },
    {
        "borrower_id": "b",
        "product": "fenqile",
        "own": False,
        "open": False,
        "opened_on": date(2022, 6, 15),
        "limit_fen": 500_000,
        "balance_fen": 0,
        "overdue_fen": 0,
        "level": 0,
        "dpd": None,
    },
]


def test_account_features() -> None:
    f = _one(_view(accounts=ACCOUNTS, income=(1_000_000, 800_000)))
    assert f["current_dpd"] == 2  # own lines only; other groups report no DPD
    assert f["current_status"] == 2
    assert f["months_since_delinquency"] == 0  # late now
    assert f["cured"] is False
    assert f["overdue_amount_fen"] == 50_000 + 120_000
    assert f["lines_count"] == 3  # the closed fenqile account is not open
    assert (f["products_with_balance"], f["products_overdue"]) == (2, 2)
    # Open accounts with a limit: (250,000 + 0 + 1,500,000) / (1,000,000 + 2,000,000 + 3,000,000).
    assert f["utilisation"] == pytest.approx(1_750_000 / 6_000_000)
    # Oldest account 2022-06-15; 2022-06 to 2026-04 is 46 months and the 15th is reached.
    assert f["credit_age_months"] == 46
    assert (f["verified_income_fen"], f["verified_income"]) == (800_000, "yes")
    # The verified income counts when there is one: 1,750,000 / (12 × 800,000).
    assert f["debt_to_income"] == pytest.approx(1_750_000 / 9_600_000)


@pytest.mark.parametrize(
    ("opened_on", "as_of", "months"),
    [
        (date(2025, 4, 16), AS_OF, 11),
        (date(2025, 4, 15), AS_OF, 12),
        (date(2026, 1, 31), date(2026, 2, 28), 1),  # the 31st falls on the last day
        (date(2026, 1, 31), date(2026, 2, 27), 0),
        (date(2025, 12, 31), date(2026, 2, 28), 2),
        (date(2026, 4, 15), AS_OF, 0),
    ],
)
def test_credit_age_counts_whole_months(opened_on: date, as_of: date, months: int) -> None:
    account = {**ACCOUNTS[1], "opened_on": opened_on}
    assert _one(_view(accounts=[account]), as_of)["credit_age_months"] == months


def test_hard_inquiries_by_calendar_month() -> None:
    days = [
        (date(2026, 4, 15), True),  # today: 1m
        (date(2026, 4, 1), True),  # 1m
        (date(2026, 4, 10), False),  # soft: never
        (date(2026, 3, 31), True),  # 3m
        (date(2026, 2, 1), True),  # 3m
        (date(2026, 1, 31), True),  # 6m
        (date(2025, 11, 1), True),  # 6m
        (date(2025, 10, 31), True),  # outside
        (date(2026, 4, 16), True),  # after as_of
    ]
    rows = [{"borrower_id": "b", "inquired_on": d, "hard": hard} for d, hard in days]
    f = _one(_view(inquiries=rows))
    assert (f["hard_inquiries_1m"], f["hard_inquiries_3m"], f["hard_inquiries_6m"]) == (2, 4, 6)


def test_payment_ratio_counts_what_fell_due_and_caps_each_row() -> None:
    rows = [
        (date(2026, 4, 14), 1_000, 1_000),
        (date(2026, 4, 15), 500, 0),  # due today: can still be paid on time
        (date(2025, 11, 1), 2_000, 500),
        (date(2025, 10, 31), 9_999, 0),  # before the 6-month window
        (date(2026, 3, 1), 1_000, 3_000),  # paying ahead counts up to what was due
    ]
    payments = [
        {"borrower_id": "b", "due_date": d, "due_fen": due, "paid_fen": paid}
        for d, due, paid in rows
    ]
    f = _one(_view(payments=payments))
    assert f["payment_ratio_6m"] == pytest.approx((1_000 + 500 + 1_000) / (1_000 + 2_000 + 1_000))


def test_spending_regularity_counts_months_with_spending() -> None:
    days = [
        date(2026, 4, 15),
        date(2026, 4, 2),  # same month
        date(2026, 2, 28),
        date(2025, 11, 1),
        date(2025, 10, 31),  # outside
        date(2026, 4, 16),  # after as_of
    ]
    f = _one(_view(spend=[{"borrower_id": "b", "spent_on": d} for d in days]))
    assert f["spending_regularity"] == pytest.approx(3 / 6)


def test_a_borrower_without_anything_gets_a_row_of_zeros_and_nulls() -> None:
    view = _view(
        ["a", "z"],
        accounts=[{**ACCOUNTS[0], "borrower_id": "x"}],  # not a borrower to score
        income=(0, None),
    )
    result = build_features(view, AS_OF)
    assert result["borrower_id"].to_list() == ["a", "z"]  # the borrowers' order
    f = result.row(1, named=True)
    assert f == {
        "borrower_id": "z",
        "shard": 1,
        "current_dpd": 0,
        "current_status": 0,
        "worst_status_3m": 0,
        "worst_status_6m": 0,
        "worst_status_12m": 0,
        "worst_status_24m": 0,
        "overdue_months_consecutive_24m": 0,
        "overdue_months_cumulative_24m": 0,
        "lian_san_lei_liu": False,
        "months_since_delinquency": None,
        "cured": False,
        "overdue_amount_fen": 0,
        "lines_count": 0,
        "products_with_balance": 0,
        "products_overdue": 0,
        "utilisation": None,
        "credit_age_months": None,
        "payment_ratio_6m": None,
        "hard_inquiries_1m": 0,
        "hard_inquiries_3m": 0,
        "hard_inquiries_6m": 0,
        "declared_income_fen": 0,
        "verified_income_fen": None,
        "verified_income": "no",
        "debt_to_income": None,
        "spending_regularity": 0.0,
    }


def test_income_used_is_the_verified_one_even_when_zero() -> None:
    assert _one(_view(accounts=ACCOUNTS, income=(500_000, 0)))["debt_to_income"] is None
    # No verified income: the declared one, 1,750,000 / (12 × 500,000).
    f = _one(_view(accounts=ACCOUNTS, income=(500_000, None)))
    assert f["debt_to_income"] == pytest.approx(1_750_000 / 6_000_000)
    assert f["verified_income"] == "no"


def test_many_borrowers_at_once_equal_each_alone() -> None:
    """The batch and the real-time path are the same kernel on different frames."""
    ids = ["b", "c", "d"]
    renamed = [{**a, "borrower_id": ids[i % 3]} for i, a in enumerate(ACCOUNTS)]
    months = [
        {**m, "borrower_id": ids[i % 3]} for i, m in enumerate(_history([0, 1, 1, 2, 0, 3, 1]))
    ]
    spend = [{"borrower_id": ids[i % 3], "spent_on": date(2026, i % 4 + 1, 3)} for i in range(7)]
    view = _view(ids, accounts=renamed, months=months, spend=spend)
    together = build_features(view, AS_OF)

    def alone(b: str) -> pl.DataFrame:
        only = pl.col("borrower_id") == b
        return build_features(
            ViewFrames(**{f.name: getattr(view, f.name).filter(only) for f in fields(view)}), AS_OF
        )

    assert pl.concat([alone(b) for b in ids]).equals(together)
