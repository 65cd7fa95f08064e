"""The stored current view a decision reads equals the view rebuilt from the tables.

Decisions read each group's view of a borrower from ``current_scores`` when it
is current, instead of rebuilding it. That is only right if every change a
group can see reaches the stored row (through an event or the nightly pass):
here a book goes through a purchase, lateness, a notice, a late payment and
month-end reports, and after each of those days each borrower's served view
in each group equals the rebuilt one, input by input.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
import yaml

from crossline.catalog import catalog_to_json
from crossline.decisions.inputs import rebuilt_view, stored_view
from crossline.scenario.runner import run_days
from crossline.scenario.spec import parse_scenario
from crossline.scoring.scorecard import default_scorecard
from crossline.servicing.context import open_context
from crossline.servicing.lines import register_borrower
from crossline.store import platform
from crossline.store.engine import upgrade
from crossline.store.schema import outbox
from tests.helpers import EXAMPLES, run_example

SCENARIO = EXAMPLES / "ant_overdue_45_days_reported.yaml"
CHECKED_AFTER = {
    date(2026, 3, 31): "the March report",
    date(2026, 4, 14): "the day Ning's Huabei went past its grace",
    date(2026, 5, 10): "the pre-report notice",
    date(2026, 5, 25): "the day Ning paid, 45 days late",
    date(2026, 5, 31): "the May report, which shows it",
}


def _same_views(conn: sa.Connection, when: str) -> int:
    card = default_scorecard()
    catalog = open_context(conn).catalog
    today = platform.business_date(conn)
    checked = 0
    for borrower in ("ning", "ming"):
        for group in ("ant", "lexin", "webank"):
            served = stored_view(conn, catalog, group, borrower, card)
            rebuilt = rebuilt_view(conn, group, borrower, today, card)
            assert served is not None and served.served, (when, borrower, group)
            assert served.inputs == rebuilt.inputs, (when, borrower, group)
            assert (served.score, served.band, served.reasons) == (
                rebuilt.score,
                rebuilt.band,
                rebuilt.reasons,
            ), (when, borrower, group)
            checked += 1
    return checked


def test_served_views_equal_rebuilt_views_through_a_book_s_life(engine: sa.Engine) -> None:
    scenario = parse_scenario(yaml.safe_load(SCENARIO.read_text()))
    upgrade(engine)
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=scenario.start, catalog_json=catalog_to_json(scenario.catalog)
        )
        ctx = open_context(conn)
        for borrower in scenario.borrowers:
            register_borrower(ctx, borrower.id, borrower.monthly_income)
    checked: list[int] = []

    def after_close(day: date) -> None:
        if day in CHECKED_AFTER:
            with engine.connect() as conn:
                checked.append(_same_views(conn, CHECKED_AFTER[day]))

    run_days(engine, scenario.start, scenario.end, scenario.steps, None, after_close)
    assert checked == [6] * len(CHECKED_AFTER)


def test_a_pending_event_means_the_view_is_rebuilt(engine: sa.Engine) -> None:
    run_example(engine, SCENARIO.stem)
    card = default_scorecard()
    with engine.begin() as conn:
        catalog = open_context(conn).catalog
        assert stored_view(conn, catalog, "ant", "ning", card) is not None
        conn.execute(
            sa.insert(outbox).values(
                event_id=10**9,
                borrower_id="ning",
                shard=platform.shard_of("ning"),
                business_date=platform.business_date(conn),
                type="repaid",
                payload="{}",
            )
        )
        assert stored_view(conn, catalog, "ant", "ning", card) is None
        assert stored_view(conn, catalog, "ant", "ming", card) is not None


def test_only_an_event_of_the_group_s_own_products_means_its_view_is_rebuilt(
    engine: sa.Engine,
) -> None:
    run_example(engine, SCENARIO.stem)
    card = default_scorecard()
    with engine.begin() as conn:
        catalog = open_context(conn).catalog
        conn.execute(
            sa.insert(outbox).values(
                event_id=10**9,
                borrower_id="ning",
                shard=platform.shard_of("ning"),
                business_date=platform.business_date(conn),
                type="purchased",
                product="fenqile",
                payload="{}",
            )
        )
        assert stored_view(conn, catalog, "lexin", "ning", card) is None
        assert stored_view(conn, catalog, "ant", "ning", card) is not None
        assert stored_view(conn, catalog, "webank", "ning", card) is not None
