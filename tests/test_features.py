"""The feature kernel on small hand-made views; every expected value is worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from typing import Any

import polars as pl
import pytest

from crossline.kernels.features import (
    BORROWER_SCHEMA,
    FEATURE_SCHEMA,
    GROUP_FEATURE_SCHEMA,
    INQUIRY_SCHEMA,
    LINE_SCHEMA,
    PAYMENT_SCHEMA,
    RECORD_SCHEMA,
    SPEND_SCHEMA,
    ViewFrames,
    build_features,
    longest_run,
    payment_window,
)

AS_OF = date(2026, 4, 15)
MARCH = date(2026, 3, 31)
"""The month end before AS_OF: a grid ending here covers the 24 months before April."""
GROUPS = ("ant", "lexin", "webank")
Rows = Sequence[dict[str, Any]]


def _frame(rows: Rows, schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schema)


def _line(
    grid: str = "",
    *,
    end: date | None = MARCH,
    borrower: str = "b",
    group: str = "ant",
    **values: Any,
) -> dict[str, Any]:
    """An own line; ``grid`` is its latest record's actual grid, oldest first, ending at ``end``."""
    return {
        "borrower_id": borrower,
        "lender_group": group,
        "open": True,
        "opened_on": date(2025, 5, 10),
        "limit_fen": 2_000_000,
        "balance_fen": 0,
        "overdue_fen": 0,
        "dpd": 0,
        "month_max_dpd": 0,
        "grace_days": 0,
        "pboc_status": "N",
        "actual_history": grid.rjust(24, "-") if grid else None,
        "history_end": end if grid else None,
    } | values


def _record(
    grid: str, *, end: date = MARCH, borrower: str = "b", group: str = "webank", **values: Any
) -> dict[str, Any]:
    """Another group's latest visible record; its grid ends with its own month."""
    return {
        "borrower_id": borrower,
        "lender_group": group,
        "status": grid[-1],
        "opened_on": date(2023, 2, 28),
        "limit_fen": 3_000_000,
        "balance_fen": 0,
        "overdue_fen": 0,
        "history": grid.rjust(24, "-"),
        "period_end": end,
    } | values


def _view(
    borrowers: list[str] | None = None,
    *,
    lines: Rows = (),
    records: Rows = (),
    inquiries: Rows = (),
    payments: Rows = (),
    spend: Rows = (),
    income: tuple[int, int | None] = (1_000_000, None),
) -> ViewFrames:
    ids = borrowers or ["b"]
    declared, verified = income
    return ViewFrames(
        lines=_frame(lines, LINE_SCHEMA),
        records=_frame(records, RECORD_SCHEMA),
        inquiries=_frame(inquiries, INQUIRY_SCHEMA),
        payments=_frame(payments, PAYMENT_SCHEMA),
        spend=_frame(spend, SPEND_SCHEMA),
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


def _one(view: ViewFrames, as_of: date = AS_OF, group: str = "ant") -> dict[str, Any]:
    result = build_features(view, as_of, [group])
    assert result.schema == GROUP_FEATURE_SCHEMA
    assert result.height == 1
    row = result.row(0, named=True)
    assert row.pop("lender_group") == group
    assert list(row) == list(FEATURE_SCHEMA)
    return row


def test_runs_of_overdue_months_and_worst_statuses() -> None:
    # Own history September 2025 .. March 2026 as it was; April from the line, clean.
    f = _one(_view(lines=[_line("N11N222")]))
    assert f["overdue_months_consecutive_24m"] == 3
    assert f["overdue_months_cumulative_24m"] == 5
    assert f["lian_san_lei_liu"] is True
    assert (f["worst_status_3m"], f["worst_status_6m"], f["worst_status_24m"]) == (2, 2, 2)
    assert f["months_since_delinquency"] == 1  # March, and April is clean
    assert f["cured"] is True  # delinquent within 24 months, no account late now


def test_the_current_month_comes_from_the_line() -> None:
    # 40 DPD at worst this month, beyond huabei's 3 days of grace: band 2 in April.
    f = _one(_view(lines=[_line("NN", month_max_dpd=40, grace_days=3)]))
    assert (f["worst_status_3m"], f["months_since_delinquency"], f["cured"]) == (2, 0, True)
    # 3 DPD inside the grace period is not late.
    f = _one(_view(lines=[_line("NN", month_max_dpd=0, dpd=3, grace_days=3)]))
    assert (f["worst_status_3m"], f["months_since_delinquency"]) == (0, None)
    # A line without any record yet has only its current month.
    f = _one(_view(lines=[_line(dpd=5)]))
    assert (f["current_dpd"], f["worst_status_24m"], f["overdue_months_cumulative_24m"]) == (
        5,
        1,
        1,
    )


def test_overdue_months_are_calendar_months_over_all_accounts() -> None:
    # webank's account late in October and November, lexin's in November and December.
    records = [_record("11NNNN"), _record("N11NNN", group="lexin")]
    f = _one(_view(records=records))
    assert f["overdue_months_consecutive_24m"] == 3
    assert f["overdue_months_cumulative_24m"] == 3
    assert f["months_since_delinquency"] == 4  # December 2025 to April 2026


@pytest.mark.parametrize(
    ("grid", "consecutive", "cumulative", "rule"),
    [
        ("11N11N1N", 2, 5, False),  # two short of both
        ("11N11N11", 2, 6, True),  # 累六 without 连三
        ("NN111N", 3, 3, True),  # 连三 exactly
        ("3N1N4N", 1, 3, False),  # severity does not matter, only lateness
        ("1" * 24, 23, 23, True),  # the oldest month of last month's grid is 24 months back
    ],
)
def test_lian_san_lei_liu_edges(grid: str, consecutive: int, cumulative: int, rule: bool) -> None:
    f = _one(_view(records=[_record(grid)]))
    assert f["overdue_months_consecutive_24m"] == consecutive
    assert f["overdue_months_cumulative_24m"] == cumulative
    assert f["lian_san_lei_liu"] is rule


def test_an_older_grid_is_aligned_to_the_month_of_as_of() -> None:
    # Reported up to December 2025 only: its grid covers January 2024 .. December 2025.
    # April 2024 (24 months back) is outside the window, May 2024 (23 back) inside.
    old = _record("---74" + "N" * 19, end=date(2025, 12, 31))
    # January 2026 is 3 months back (outside the 3-month window), February 2 back.
    recent = _record("31N", group="lexin")
    f = _one(_view(records=[old, recent]))
    assert f["worst_status_3m"] == 1
    assert (f["worst_status_6m"], f["worst_status_12m"], f["worst_status_24m"]) == (3, 3, 4)
    assert f["overdue_months_cumulative_24m"] == 3  # May 2024, January and February 2026
    assert f["overdue_months_consecutive_24m"] == 2
    assert f["months_since_delinquency"] == 2  # February
    # A delinquency more than 24 months back is outside every window.
    f = _one(_view(records=[_record("---7" + "N" * 20, end=date(2025, 12, 31))]))
    assert (f["worst_status_24m"], f["months_since_delinquency"]) == (0, None)


def test_another_groups_account_is_late_now_only_while_its_record_shows_it_owing() -> None:
    # Reported 2 for March but repaid by the month end: history, not current.
    repaid = _one(_view(records=[_record("N2")]))
    assert (repaid["current_status"], repaid["months_since_delinquency"]) == (0, 1)
    assert repaid["cured"] is True
    owing = _one(_view(records=[_record("N3", overdue_fen=45_000)]))
    assert (owing["current_status"], owing["months_since_delinquency"]) == (3, 0)
    assert owing["cured"] is False
    # Bad debt is current whatever the overdue amount says.
    assert _one(_view(records=[_record("NB")]))["current_status"] == 8


def test_each_group_sees_its_lines_as_they_were_and_the_others_as_reported() -> None:
    # A 10-day overdue in March: ant's own grid shows band 1, the report showed N.
    view = _view(lines=[_line("N1")], records=[_record("NN", group="ant")])
    rows = build_features(view, AS_OF, GROUPS)
    assert rows["lender_group"].to_list() == list(GROUPS)
    ant, lexin, webank = rows.iter_rows(named=True)
    assert (ant["worst_status_3m"], ant["months_since_delinquency"]) == (1, 1)
    assert ant["lines_count"] == 1  # its own record does not count as a second account
    for other in (lexin, webank):
        assert (other["worst_status_24m"], other["months_since_delinquency"]) == (0, None)
        assert (other["lines_count"], other["credit_age_months"]) == (1, 37)  # from 2023-02-28


ACCOUNT_LINES = [
    _line(
        "N",
        opened_on=date(2024, 1, 31),
        limit_fen=1_000_000,
        balance_fen=250_000,
        overdue_fen=50_000,
        dpd=2,
        grace_days=3,
    ),
    _line("N"),
]
ACCOUNT_RECORDS = [
    _record("N2", balance_fen=1_500_000, overdue_fen=120_000),
    _record("NC", group="lexin", opened_on=date(2022, 6, 15), limit_fen=500_000, balance_fen=0),
]


def test_account_features() -> None:
    view = _view(lines=ACCOUNT_LINES, records=ACCOUNT_RECORDS, income=(1_000_000, 800_000))
    f = _one(view)
    assert f["current_dpd"] == 2  # own lines only; other groups report no DPD
    assert f["current_status"] == 2
    assert f["months_since_delinquency"] == 0  # late now
    assert f["cured"] is False
    assert f["overdue_amount_fen"] == 50_000 + 120_000
    assert f["lines_count"] == 3  # the settled lexin account is not open
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
    assert _one(_view(lines=[_line(opened_on=opened_on)]), as_of)["credit_age_months"] == months


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
    view = _view(inquiries=rows)
    for group in GROUPS:  # every group reads the same report
        f = _one(view, group=group)
        assert (f["hard_inquiries_1m"], f["hard_inquiries_3m"], f["hard_inquiries_6m"]) == (2, 4, 6)


def test_the_payment_window_ends_the_day_before_as_of() -> None:
    # A row due today can still be paid on time; the window opens on the 1st, 5 months back.
    assert payment_window(AS_OF) == (date(2025, 11, 1), date(2026, 4, 14))


def test_payment_ratio_is_own_and_summed_over_rows() -> None:
    payments = [
        {"borrower_id": "b", "lender_group": "ant", "due_fen": 1_000, "paid_fen": 1_000},
        {"borrower_id": "b", "lender_group": "ant", "due_fen": 2_000, "paid_fen": 500},
        {"borrower_id": "b", "lender_group": "lexin", "due_fen": 4_000, "paid_fen": 0},
    ]
    view = _view(payments=payments)
    assert _one(view)["payment_ratio_6m"] == pytest.approx(1_500 / 3_000)
    assert _one(view, group="lexin")["payment_ratio_6m"] == 0.0
    assert _one(view, group="webank")["payment_ratio_6m"] is None  # nothing fell due


def test_spending_regularity_counts_own_months_with_spending() -> None:
    days = [
        date(2026, 4, 15),
        date(2026, 4, 2),  # same month
        date(2026, 2, 28),
        date(2025, 11, 1),
        date(2025, 10, 31),  # outside
        date(2026, 4, 16),  # after as_of
    ]
    spend = [{"borrower_id": "b", "lender_group": "ant", "spent_on": d} for d in days]
    spend.append({"borrower_id": "b", "lender_group": "webank", "spent_on": date(2026, 1, 5)})
    view = _view(spend=spend)
    assert _one(view)["spending_regularity"] == pytest.approx(3 / 6)
    assert _one(view, group="webank")["spending_regularity"] == pytest.approx(1 / 6)


def test_a_borrower_without_anything_gets_a_row_of_zeros_and_nulls_in_every_view() -> None:
    view = _view(
        ["a", "z"],
        lines=[_line(borrower="x")],  # not a borrower to score
        income=(0, None),
    )
    result = build_features(view, AS_OF, GROUPS)
    # The borrowers' order, then the groups' order.
    assert result.select("borrower_id", "lender_group").rows() == [
        (b, g) for b in ("a", "z") for g in GROUPS
    ]
    f = result.row(5, named=True)
    assert f == {
        "borrower_id": "z",
        "lender_group": "webank",
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
    view = _view(lines=ACCOUNT_LINES, records=ACCOUNT_RECORDS, income=(500_000, 0))
    assert _one(view)["debt_to_income"] is None
    # No verified income: the declared one, 1,750,000 / (12 × 500,000).
    view = _view(lines=ACCOUNT_LINES, records=ACCOUNT_RECORDS, income=(500_000, None))
    f = _one(view)
    assert f["debt_to_income"] == pytest.approx(1_750_000 / 6_000_000)
    assert f["verified_income"] == "no"


@pytest.mark.parametrize(
    ("mask", "run"),
    [
        (0, 0),
        (0b1, 1),
        (0b1011_1011, 3),
        (0b1111 << 10, 4),  # across the two 12-bit halves
        ((1 << 24) - 1, 24),
        (0b1 << 23 | 0b11, 2),
    ],
)
def test_longest_run_of_bits(mask: int, run: int) -> None:
    result = pl.select(longest_run(pl.lit(mask, pl.Int64)).alias("run"))
    assert result["run"].item() == run


def test_many_borrowers_at_once_equal_each_alone() -> None:
    """The batch and the real-time path are the same kernel on different frames."""
    ids = ["b", "c", "d"]
    lines = [_line("N1", borrower="b", dpd=3), _line("2N", borrower="c", group="lexin")]
    records = [
        _record("1N3", borrower="c", overdue_fen=10),
        _record("B", borrower="d", group="ant"),
        _record("N", borrower="b", group="lexin"),
    ]
    spend = [
        {
            "borrower_id": ids[i % 3],
            "lender_group": GROUPS[i % 2],
            "spent_on": date(2026, i % 4 + 1, 3),
        }
        for i in range(7)
    ]
    view = _view(ids, lines=lines, records=records, spend=spend)
    together = build_features(view, AS_OF, GROUPS)

    def alone(b: str) -> pl.DataFrame:
        only = pl.col("borrower_id") == b
        frames = {f.name: getattr(view, f.name).filter(only) for f in fields(view)}
        return build_features(ViewFrames(**frames), AS_OF, GROUPS)

    assert pl.concat([alone(b) for b in ids]).equals(together)
    assert together["worst_status_24m"].n_unique() > 2
