"""Scores in use: each group scores from its own view, at once on events and nightly.

The examples pair a late borrower (ning) with a twin who pays on time (ming):
same products, limits, purchases and dates. Whatever separates their scores
in a group's view is the overdue, and only what that group may see of it.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from typer.testing import CliRunner

from crossline.catalog import load_catalog
from crossline.cli import app
from crossline.events.handlers import affected_groups
from crossline.store.schema import current_scores, feature_snapshots, score_history
from tests.helpers import EXAMPLES, run_example


def _scores(state: dict[str, Any], borrower: str) -> dict[str, int]:
    return {g: s["score"] for g, s in state["borrowers"][borrower]["scores"].items()}


def _codes(state: dict[str, Any], borrower: str, group: str) -> list[str]:
    return [r["code"] for r in state["borrowers"][borrower]["scores"][group]["reasons"]]


def test_a_short_ant_overdue_moves_ant_only(engine: sa.Engine) -> None:
    outcome = run_example(engine, "ant_overdue_10_days_unseen_by_webank")
    snaps = outcome["snapshots"]
    late = snaps["ten_days_late"]
    assert _scores(late, "ning")["ant"] < _scores(late, "ming")["ant"]
    assert "current_status" in _codes(late, "ning", "ant")
    for name in ("before_overdue", "ten_days_late", "after_april_report"):
        assert _scores(snaps[name], "ning")["webank"] == _scores(snaps[name], "ming")["webank"]
    # After the cure ant still remembers the month (its own history); webank never saw it.
    after = snaps["after_april_report"]
    assert _scores(after, "ning")["ant"] < _scores(after, "ming")["ant"]


DELINQUENCY = {
    "current_status",
    "worst_status_3m",
    "worst_status_6m",
    "worst_status_12m",
    "worst_status_24m",
    "months_since_delinquency",
    "overdue_months_consecutive_24m",
    "overdue_months_cumulative_24m",
}
"""Reason codes that say "you were late"."""


def test_a_reported_overdue_reaches_the_other_groups_after_the_report(engine: sa.Engine) -> None:
    outcome = run_example(engine, "ant_overdue_45_days_reported")
    snaps = outcome["snapshots"]
    assert _scores(snaps["day_45"], "ning")["ant"] < _scores(snaps["day_45"], "ming")["ant"]
    assert DELINQUENCY & set(_codes(snaps["day_45"], "ning", "ant"))
    # Until the May report, webank and lexin see Ning's Huabei balance (reported
    # in April) but no late payment.
    for name in ("day_45", "report_day"):
        for group in ("webank", "lexin"):
            assert not DELINQUENCY & set(_codes(snaps[name], "ning", group)), (name, group)
    before, after = snaps["report_day"], snaps["after_may_report"]
    for group in ("webank", "lexin"):
        assert DELINQUENCY & set(_codes(after, "ning", group)), group
        assert _scores(after, "ning")[group] < _scores(before, "ning")[group]
        assert _scores(after, "ming")[group] == _scores(before, "ming")[group]
        # Repaid on 25 May: the record is history, not a current overdue.
        assert "current_status" not in _codes(after, "ning", group)


def test_history_keeps_changes_only_with_reasons(engine: sa.Engine) -> None:
    run_example(engine, "ant_overdue_45_days_reported")
    with engine.connect() as conn:
        history = conn.execute(
            sa.select(
                score_history.c.borrower_id,
                score_history.c.lender_group,
                score_history.c.business_date,
                score_history.c.score,
                score_history.c.reasons,
                score_history.c.trigger,
            ).order_by(score_history.c.score_id)
        ).all()
        current = conn.execute(sa.select(current_scores)).all()
    frame = pl.DataFrame(
        [tuple(row) for row in history],
        schema=["borrower", "group", "day", "score", "reasons", "trigger"],
        orient="row",
    )
    # Consecutive rows of one borrower and group always differ: nothing is
    # written when nothing changed.
    repeats = (
        frame.with_columns(
            pl.col("score").shift().over("borrower", "group").alias("last"),
            pl.col("reasons").shift().over("borrower", "group").alias("last_reasons"),
        )
        .filter((pl.col("score") == pl.col("last")) & (pl.col("reasons") == pl.col("last_reasons")))
        .height
    )
    assert repeats == 0
    assert len(current) == 6  # two borrowers × three groups
    # The repayment re-scores ant at once (an event), not only at night.
    repaid = frame.filter((pl.col("borrower") == "ning") & (pl.col("day") == date(2026, 5, 25)))
    assert "event" in repaid.filter(pl.col("group") == "ant")["trigger"].to_list()
    # A Huabei purchase re-scores ant at once; the other groups cannot see it.
    bought = frame.filter((pl.col("day") == date(2026, 3, 15)) & (pl.col("trigger") == "event"))
    assert sorted(set(bought["group"])) == ["ant"]
    for reasons in frame["reasons"]:
        assert all(set(r) == {"code", "text"} and r["text"] for r in json.loads(reasons))


def test_month_end_keeps_a_feature_snapshot_per_borrower_and_group(engine: sa.Engine) -> None:
    run_example(engine, "ant_overdue_45_days_reported")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                feature_snapshots.c.period_end,
                sa.func.count(),
            ).group_by(feature_snapshots.c.period_end)
        ).all()
        may = conn.execute(
            sa.select(feature_snapshots.c.features).where(
                feature_snapshots.c.borrower_id == "ning",
                feature_snapshots.c.lender_group == "webank",
                feature_snapshots.c.period_end == date(2026, 5, 31),
            )
        ).scalar_one()
    assert sorted(rows) == [(date(2026, 3, 31), 6), (date(2026, 4, 30), 6), (date(2026, 5, 31), 6)]
    # Scored at the end of 31 May as of 1 June: the May report is in webank's view.
    assert json.loads(may)["worst_status_3m"] == 2


def test_events_reach_the_groups_that_can_see_them() -> None:
    catalog = load_catalog("default")
    events = pl.DataFrame(
        {
            "borrower_id": ["a", "b", "c", "d", "e"],
            "type": ["cured", "reported", "dispute_resolved", "overdue_started", "inquiry"],
            "product": ["huabei", "huabei", "weilidai", "fenqile", None],
        }
    )
    pairs = affected_groups(events, catalog)
    assert sorted(pairs.iter_rows()) == [
        ("a", "ant"),
        ("b", "ant"),
        ("b", "lexin"),
        ("b", "webank"),
        ("c", "ant"),
        ("c", "lexin"),
        ("c", "webank"),
        ("d", "lexin"),
        ("e", "ant"),
        ("e", "lexin"),
        ("e", "webank"),
    ]


def test_demo_prints_each_groups_score_and_the_report(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "ant_overdue_10_days_unseen_by_webank.yaml", tmp_path)
    result = CliRunner().invoke(app, ["examples", "--examples", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "scores by lender group" in result.output
    rows = [line for line in result.output.splitlines() if "│ ning" in line and "no late" in line]
    assert len(rows) == 1  # ten days late, cured before the report: nothing shown
