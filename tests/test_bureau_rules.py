"""The month-end reporting rules and retention, as pure functions (no database)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from crossline.bureau.reporting import month_records
from crossline.bureau.settings import SETTINGS_SCHEMA
from crossline.kernels.bureau import visible

PERIOD_END = date(2026, 5, 31)
NULL_DAY: date | None = None


def _settings(report_min_dpd: int = 30, lead: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        [("huabei", "huabei", "ant", report_min_dpd, lead)], schema=SETTINGS_SCHEMA, orient="row"
    )


def _record(
    month_max_dpd: int,
    noticed_on: date | None,
    *,
    dpd: int = 0,
    status: str = "active",
    written_off_on: date | None = None,
    settings: pl.DataFrame | None = None,
) -> dict[str, object]:
    lines = pl.DataFrame(
        {
            "credit_line_id": [7],
            "borrower_id": ["ning"],
            "shard": [1],
            "product": ["huabei"],
            "opened_on": [date(2026, 3, 3)],
            "status": [status],
            "limit_fen": [500000],
            "dpd": [dpd],
            "month_max_dpd": [month_max_dpd],
            "pboc_status": ["N"],
            "written_off_on": [written_off_on],
        },
        schema_overrides={"shard": pl.Int16, "dpd": pl.Int32, "month_max_dpd": pl.Int32},
    )
    balances = pl.DataFrame(
        {"credit_line_id": [7], "balance_fen": [102200], "overdue_fen": [102200]}
    )
    notices = pl.DataFrame(
        {"credit_line_id": [7], "noticed_on": [noticed_on]},
        schema_overrides={"noticed_on": pl.Date},
    )
    chosen = _settings() if settings is None else settings
    previous = pl.DataFrame(
        {
            "credit_line_id": [7],
            "previous_status": ["N"],
            "previous_history": ["-" * 21 + "NN1"],
            "previous_actual_history": ["-" * 21 + "N11"],
        }
    )
    frame = month_records(lines, chosen, balances, notices, previous, PERIOD_END)
    assert frame.height == 1
    return frame.row(0, named=True)


def test_an_overdue_under_the_threshold_is_reported_current() -> None:
    record = _record(10, None)
    assert (record["status"], record["actual_status"], record["overdue_fen"]) == ("N", "1", 0)


def test_a_threshold_of_one_day_reports_every_overdue() -> None:
    record = _record(10, date(2026, 5, 20), dpd=10, settings=_settings(report_min_dpd=1))
    assert (record["status"], record["overdue_fen"]) == ("1", 102200)


@pytest.mark.parametrize(
    ("noticed_on", "status"),
    [
        (date(2026, 5, 28), "2"),  # 3 days before 31 May: old enough
        (date(2026, 5, 29), "N"),  # 2 days before: waits a cycle
        (NULL_DAY, "N"),  # never noticed: never reported
        (date(2026, 3, 10), "N"),  # a notice from an earlier delinquency does not count
    ],
)
def test_a_negative_status_needs_a_notice_old_enough(noticed_on: date | None, status: str) -> None:
    # Worst DPD this month 45 (1 May less 45 days is 16 March: the oldest day a
    # notice for a delinquency reaching into May can carry).
    record = _record(45, noticed_on)
    assert (record["status"], record["actual_status"]) == (status, "2")


def test_the_worst_dpd_of_the_month_sets_the_status_even_when_cured() -> None:
    record = _record(45, date(2026, 5, 10), dpd=0)
    assert (record["status"], record["max_dpd"], record["dpd"]) == ("2", 45, 0)
    # The grids shift last month's by one and end with this month.
    assert record["history"] == "-" * 20 + "NN12"
    assert record["actual_history"] == "-" * 20 + "N112"


def test_a_deferred_status_is_n_in_the_reported_grid_only() -> None:
    record = _record(45, date(2026, 5, 29))
    assert record["history"] == "-" * 20 + "NN1N"
    assert record["actual_history"] == "-" * 20 + "N112"


def test_bad_debt_and_closed_accounts() -> None:
    written_off = _record(200, date(2025, 6, 1), dpd=180, written_off_on=date(2025, 11, 27))
    assert written_off["status"] == "B"
    closed = _record(0, None, status="closed")
    assert closed["status"] == "C"


@pytest.mark.parametrize(
    ("status", "ended", "as_of", "shown"),
    [
        ("2", date(2026, 5, 25), date(2031, 5, 24), True),  # the last day of 5 years
        ("2", date(2026, 5, 25), date(2031, 5, 25), False),  # 5 years after it ended
        ("2", None, date(2040, 1, 1), True),  # still delinquent: always shown
        ("N", date(2026, 5, 25), date(2040, 1, 1), True),  # not negative: always shown
        ("B", None, date(2040, 1, 1), True),
        ("7", date(2024, 2, 29), date(2029, 2, 28), False),  # leap day: month end clamps
    ],
)
def test_retention_is_five_years_from_the_end_of_the_delinquency(
    status: str, ended: date | None, as_of: date, shown: bool
) -> None:
    frame = pl.DataFrame(
        {"status": [status], "delinquency_ended_on": [ended]},
        schema_overrides={"delinquency_ended_on": pl.Date},
    )
    assert frame.select(visible(as_of)).item() is shown
