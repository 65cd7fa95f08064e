"""Each lender group's view read from the database, on both backends.

Books are built through the real services and end-of-day; other groups'
older history is written as bureau records directly. Expected values are
worked out by hand from the DPD bands and the visibility rules (DOMAIN §3).
"""

from __future__ import annotations

import contextlib
import random
from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa

from crossline.bureau.inquiries import record_inquiry
from crossline.catalog import load_catalog
from crossline.eod.runner import run_eod
from crossline.scoring.views import all_group_features, group_features, groups
from crossline.servicing.context import open_context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.servicing.purchases import purchase
from crossline.servicing.repayment import repay
from crossline.store.platform import shard_of
from crossline.store.schema import bureau_records, credit_lines
from tests.conftest import initialise

START = date(2026, 3, 1)


KINDS = {
    "huabei": "revolving",
    "jiebei": "cash_loan",
    "weilidai": "cash_loan",
    "fenqile": "installment",
}


def _line(
    borrower: str,
    line: int,
    product: str,
    group: str,
    *,
    status: str = "active",
    opened_on: date = date(2019, 5, 1),
) -> dict[str, object]:
    """A credit line written directly, for accounts whose history predates the book."""
    return {
        "credit_line_id": line,
        "borrower_id": borrower,
        "shard": shard_of(borrower),
        "provider": product,
        "lender_group": group,
        "product": product,
        "kind": KINDS[product],
        "limit_fen": 1_000_000,
        "status": status,
        "opened_on": opened_on,
    }


def _record(
    borrower: str,
    line: int,
    period_end: date,
    status: str,
    history: str,
    *,
    group: str = "ant",
    product: str = "huabei",
    actual: str | None = None,
    actual_history: str | None = None,
    max_dpd: int = 0,
    balance_fen: int = 80_000,
    overdue_fen: int = 0,
    ended: date | None = None,
) -> dict[str, object]:
    """A month-end record; ``history`` is its grid, oldest month first, padded with ``-``."""
    return {
        "credit_line_id": line,
        "period_end": period_end,
        "borrower_id": borrower,
        "shard": shard_of(borrower),
        "provider": product,
        "lender_group": group,
        "product": product,
        "opened_on": date(2019, 5, 1),
        "status": status,
        "actual_status": actual or status,
        "dpd": max_dpd,
        "max_dpd": max_dpd,
        "balance_fen": balance_fen,
        "limit_fen": 1_000_000,
        "overdue_fen": overdue_fen,
        "reported_on": period_end,
        "delinquency_ended_on": ended,
        "history": history.rjust(24, "-"),
        "actual_history": (actual_history or history).rjust(24, "-"),
    }


def _features(engine: sa.Engine, group: str, as_of: date, borrower: str) -> dict[str, object]:
    with engine.connect() as conn:
        rows = group_features(conn, group, as_of, borrowers=[borrower])
    assert rows.height == 1
    return rows.row(0, named=True)


def test_groups_of_the_default_catalog() -> None:
    assert groups(load_catalog("default")) == ["ant", "lexin", "webank"]


def test_a_ten_day_overdue_cured_in_the_month_is_seen_only_by_its_own_group(
    engine: sa.Engine,
) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        register_borrower(ctx, "ann", 1_000_000)
        open_line(ctx, "ann", "jiebei", 2_000_000)
        open_line(ctx, "ann", "weilidai", 3_000_000)
        draw(ctx, "ann", "jiebei", 300_000, 3, "equal_installment")
    run_eod(engine, date(2026, 4, 10))  # first installment due 04-01, unpaid: 9 DPD
    with engine.begin() as conn:
        repay(open_context(conn), "ann", "jiebei", "all_due")

    ant = _features(engine, "ant", date(2026, 4, 11), "ann")
    # Jiebei has no grace: 9–10 DPD is band 1 this month, though the line is current again.
    assert (ant["current_dpd"], ant["current_status"]) == (0, 0)
    assert (ant["worst_status_3m"], ant["months_since_delinquency"], ant["cured"]) == (1, 0, True)
    webank = _features(engine, "webank", date(2026, 4, 11), "ann")
    assert (webank["worst_status_24m"], webank["months_since_delinquency"]) == (0, None)

    run_eod(engine, date(2026, 4, 30))  # the April record: current at month end, reported N
    with engine.connect() as conn:
        april = conn.execute(
            sa.select(bureau_records.c.status, bureau_records.c.max_dpd).where(
                bureau_records.c.product == "jiebei",
                bureau_records.c.period_end == date(2026, 4, 30),
            )
        ).one()
    assert april.status == "N" and 1 <= april.max_dpd <= 30
    ant = _features(engine, "ant", date(2026, 5, 1), "ann")
    assert (ant["worst_status_3m"], ant["months_since_delinquency"]) == (1, 1)
    webank = _features(engine, "webank", date(2026, 5, 1), "ann")
    assert (webank["worst_status_24m"], webank["months_since_delinquency"]) == (0, None)
    assert webank["lines_count"] == 2  # its own weilidai line and ant's jiebei, as reported


def _history_book(engine: sa.Engine) -> None:
    """ann: a webank line, and ant accounts whose history is written here directly."""
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for name in ("ann", "old", "cat", "dan"):
            register_borrower(ctx, name, 1_000_000)
        open_line(ctx, "ann", "weilidai", 3_000_000)
        conn.execute(
            sa.insert(credit_lines),
            [
                _line("ann", 9001, "huabei", "ant"),
                _line("old", 9003, "huabei", "ant", status="closed"),
                _line("old", 9004, "jiebei", "ant"),
                _line("cat", 9005, "huabei", "ant"),
                _line("dan", 9006, "jiebei", "ant"),
            ],
        )
        conn.execute(
            sa.insert(bureau_records),
            [
                # Reported 2 (45 DPD) at the end of February, 3 at the end of March.
                _record("ann", 9001, date(2026, 2, 28), "2", "2", max_dpd=45, overdue_fen=30_000),
                _record("ann", 9001, date(2026, 3, 31), "3", "23", max_dpd=75, overdue_fen=45_000),
                # A delinquency that ended on 2021-01-10, then settled.
                _record("old", 9003, date(2020, 11, 30), "3", "3", ended=date(2021, 1, 10)),
                _record("old", 9003, date(2021, 1, 31), "C", "3-C", balance_fen=0),
                # Current in December 2020; then 4 in January 2021, owing 30,000, and a
                # delinquency that ended on 2021-03-02; nothing reported after.
                _record("old", 9004, date(2020, 12, 31), "N", "N", product="jiebei", balance_fen=0),
                _record(
                    "old",
                    9004,
                    date(2021, 1, 31),
                    "4",
                    "N4",
                    product="jiebei",
                    overdue_fen=30_000,
                    ended=date(2021, 3, 2),
                ),
                # 45 DPD in May, repaid on the 25th: reported 2 with nothing overdue.
                _record("cat", 9005, date(2026, 4, 30), "N", "N"),
                _record("cat", 9005, date(2026, 5, 31), "2", "N2", max_dpd=45),
                # A 10-day overdue the threshold kept off the report.
                _record(
                    "dan",
                    9006,
                    date(2026, 2, 28),
                    "N",
                    "N",
                    product="jiebei",
                    actual="1",
                    actual_history="1",
                    max_dpd=10,
                ),
            ],
        )


def test_other_groups_see_a_record_only_once_it_was_reported(engine: sa.Engine) -> None:
    _history_book(engine)
    before = _features(engine, "webank", date(2026, 2, 28), "ann")
    assert (before["current_status"], before["worst_status_24m"]) == (0, 0)
    # Not even its own line, opened on 03-01.
    assert (before["overdue_amount_fen"], before["lines_count"]) == (0, 0)

    # From 03-01 the February record is out; the March one is not until 04-01.
    march = _features(engine, "webank", date(2026, 3, 31), "ann")
    assert (march["current_status"], march["worst_status_3m"]) == (2, 2)
    assert march["overdue_amount_fen"] == 30_000
    assert march["lines_count"] == 2  # ant's huabei as reported, its own weilidai
    assert march["months_since_delinquency"] == 0
    april = _features(engine, "webank", date(2026, 4, 1), "ann")
    assert (april["current_status"], april["worst_status_3m"]) == (3, 3)
    assert april["overdue_amount_fen"] == 45_000
    assert april["overdue_months_consecutive_24m"] == 2  # February and March


def test_an_overdue_repaid_before_month_end_is_history_not_current(engine: sa.Engine) -> None:
    """May is reported 2 with nothing overdue: in June other groups see a late May, and
    no account late now."""
    _history_book(engine)
    june = _features(engine, "webank", date(2026, 6, 15), "cat")
    assert (june["current_status"], june["overdue_amount_fen"]) == (0, 0)
    assert (june["worst_status_3m"], june["months_since_delinquency"], june["cured"]) == (
        2,
        1,
        True,
    )


def test_a_status_reported_n_hides_the_overdue_from_other_groups_only(engine: sa.Engine) -> None:
    _history_book(engine)
    webank = _features(engine, "webank", date(2026, 3, 1), "dan")
    assert (webank["worst_status_24m"], webank["months_since_delinquency"]) == (0, None)
    # ant's own history takes the month as it was: 10 DPD is band 1.
    ant = _features(engine, "ant", date(2026, 3, 1), "dan")
    assert (ant["worst_status_3m"], ant["months_since_delinquency"], ant["cured"]) == (1, 1, True)


def test_a_negative_record_is_shown_five_years_from_the_end_of_its_delinquency(
    engine: sa.Engine,
) -> None:
    _history_book(engine)
    # 2026-03-01: the 5 years since 2021-03-02 are not over, so January 2021's record is
    # still jiebei's latest visible one: status 4, owing 30,000. Huabei is settled.
    seen = _features(engine, "webank", date(2026, 3, 1), "old")
    assert (seen["current_status"], seen["overdue_amount_fen"], seen["lines_count"]) == (
        4,
        30_000,
        1,
    )
    # Its months are more than 24 months back: no delinquent month in the window.
    assert (seen["worst_status_24m"], seen["overdue_months_cumulative_24m"]) == (0, 0)
    # 2026-04-02: that record is no longer shown; December 2020's current one is the latest.
    gone = _features(engine, "webank", date(2026, 4, 2), "old")
    assert (gone["current_status"], gone["overdue_amount_fen"], gone["lines_count"]) == (0, 0, 1)
    assert gone["months_since_delinquency"] is None
    assert gone["credit_age_months"] == 83  # opened 2019-05-01: 7 years less a month


OLD_HISTORY = (("2", "lexin", "fenqile"), ("5", "ant", "jiebei"), ("B", "webank", "weilidai"))


def _old_accounts(name: str, key: int, opened: set[str]) -> tuple[list[dict[str, object]], ...]:
    """Closed lines whose August–October 2025 status went out before the book starts, with
    the February 2026 record whose grid carries it (the March report continues that grid)."""
    lines, records = [], []
    for i, (status, group, product) in enumerate(OLD_HISTORY):
        if product in opened:
            continue
        line = 100_000 + 10 * key + i
        lines.append(_line(name, line, product, group, status="closed"))
        grid = status + "C" * (6 - i)  # the status in August + i, then settled
        records.append(
            _record(name, line, date(2026, 2, 28), "C", grid, group=group, product=product)
        )
    return lines, records


def _generated_book(engine: sa.Engine, count: int) -> list[str]:
    """A few dozen borrowers with random products, amounts, inquiries and repayments."""
    rng = random.Random(20260301)
    initialise(engine, START)
    names = [f"g{i:02d}" for i in range(count)]
    old: list[tuple[str, set[str]]] = []
    with engine.begin() as conn:
        ctx = open_context(conn)
        for name in names:
            register_borrower(ctx, name, rng.choice([0, 500_000, 1_200_000]))
            opened = set()
            if rng.random() < 0.6:
                open_line(ctx, name, "huabei", 1_000_000)
                purchase(ctx, name, "huabei", rng.randrange(10_000, 200_000))
                opened.add("huabei")
            if rng.random() < 0.5:
                open_line(ctx, name, "jiebei", 2_000_000)
                draw(ctx, name, "jiebei", rng.randrange(50_000, 400_000), 3, "equal_installment")
                opened.add("jiebei")
            if rng.random() < 0.5:
                open_line(ctx, name, "weilidai", 2_000_000)
                draw(ctx, name, "weilidai", rng.randrange(50_000, 400_000), 5, "equal_principal")
                opened.add("weilidai")
            if rng.random() < 0.4:
                open_line(ctx, name, "fenqile", 1_000_000)
                purchase(ctx, name, "fenqile", rng.randrange(30_000, 200_000), 3)
                opened.add("fenqile")
            for _ in range(rng.randrange(3)):
                record_inquiry(ctx, name, rng.choice(["ant", "webank", "lexin"]), "loan_approval")
            if rng.random() < 0.3:
                old.append((name, opened))
        # After every service-opened line, so that their ids never meet these.
        for name, opened in old:
            lines, records = _old_accounts(name, names.index(name), opened)
            conn.execute(sa.insert(credit_lines), lines)
            conn.execute(sa.insert(bureau_records), records)
    run_eod(engine, date(2026, 4, 12))
    with engine.begin() as conn:
        ctx = open_context(conn)
        for name in names:
            for product in ("huabei", "jiebei", "weilidai", "fenqile"):
                if rng.random() < 0.5:
                    with contextlib.suppress(RefusedError):  # no such line, or nothing due
                        repay(ctx, name, product, "all_due")
    return names


def test_a_shard_range_and_each_borrower_alone_give_the_same_features(engine: sa.Engine) -> None:
    names = _generated_book(engine, 30)
    as_of = date(2026, 4, 13)
    with engine.connect() as conn:
        together = all_group_features(conn, as_of, shards=(0, 1024)).sort("borrower_id")
        alone = pl.concat([all_group_features(conn, as_of, borrowers=[name]) for name in names])
        one_group = {
            group: pl.concat(
                [group_features(conn, group, as_of, borrowers=[name]) for name in names]
            )
            for group in groups(load_catalog("default"))
        }
    # Every borrower in every group's view, the groups in the catalog's order.
    assert together.select("borrower_id", "lender_group").rows() == [
        (name, group) for name in names for group in ("ant", "lexin", "webank")
    ]
    assert together.equals(alone)
    for group, features in one_group.items():
        mine = together.filter(pl.col("lender_group") == group).drop("lender_group")
        assert features.equals(mine), group
    # The book is varied enough for the comparison to mean something.
    assert together["current_dpd"].max() > 0
    assert together["worst_status_24m"].n_unique() > 2
    assert together["hard_inquiries_3m"].max() > 0
    assert together["payment_ratio_6m"].n_unique() > 2
    assert together["spending_regularity"].max() > 0


def test_either_borrowers_or_shards(engine: sa.Engine) -> None:
    initialise(engine, START)
    with engine.connect() as conn, pytest.raises(ValueError, match="either borrowers or shards"):
        all_group_features(conn, START)
