"""The bureau end to end: notices before reports, who sees what, disputes, inquiries, reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console
from typer.testing import CliRunner

from crossline.bureau.disputes import file_dispute, resolve_dispute
from crossline.bureau.inquiries import record_inquiry
from crossline.bureau.render import render_report
from crossline.bureau.report import credit_report
from crossline.cli import app
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.store.engine import make_engine
from crossline.store.schema import bureau_disputes, bureau_records, notifications
from tests.helpers import EXAMPLES, dump, run_example, run_yaml


def _bureau(state: dict[str, Any], borrower: str, product: str) -> dict[str, dict[str, Any]]:
    """The borrower's records for one product, by month."""
    return {
        r["month"]: r
        for r in state["borrowers"][borrower].get("bureau", [])
        if r["product"] == product
    }


def _events(outcome: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in outcome["events"] if e["type"] == kind]


def test_a_10_day_overdue_cured_before_month_end_is_never_reported(engine: sa.Engine) -> None:
    outcome = run_example(engine, "ant_overdue_10_days_unseen_by_webank")
    # Late from 11 April: at the start of 20 April, 9 days are past; paid that day.
    late = outcome["snapshots"]["ten_days_late"]["borrowers"]["ning"]["lines"]["huabei"]
    assert late["dpd"] == 9
    records = _bureau(outcome["final"], "ning", "huabei")
    assert [(m, r["status"]) for m, r in records.items()] == [("2026-03", "N"), ("2026-04", "N")]
    assert _events(outcome, "notice_sent") == []


def test_a_45_day_overdue_is_noticed_then_reported(engine: sa.Engine) -> None:
    outcome = run_example(engine, "ant_overdue_45_days_reported")
    # At the start of 25 May, 44 days are past (late from 11 April); paid that day.
    day_45 = outcome["snapshots"]["day_45"]["borrowers"]["ning"]["lines"]["huabei"]
    assert day_45["dpd"] == 44
    # Late from 11 April (the day after the due date, grace having lapsed), so
    # day 30 is 10 May: the notice goes out at the end of that day.
    notices = _events(outcome, "notice_sent")
    assert [(n["date"], n["dpd"], n["reported_from"]) for n in notices] == [
        ("2026-05-10", 30, "2026-05-31")
    ]
    negative = [r for r in _events(outcome, "reported") if r["status"] != "N"]
    assert [(r["date"], r["product"], r["status"]) for r in negative] == [
        ("2026-05-31", "huabei", "2")
    ]
    assert outcome["events"].index(notices[0]) < outcome["events"].index(negative[0])
    # On 31 May, before that day's end, May is not reported yet; on 1 June it is.
    assert "2026-05" not in _bureau(outcome["snapshots"]["report_day"], "ning", "huabei")
    may = _bureau(outcome["final"], "ning", "huabei")["2026-05"]
    assert (may["status"], may["visible"], may["disputed"]) == ("2", True, False)
    with engine.connect() as conn:
        kinds = conn.execute(
            sa.select(notifications.c.kind, notifications.c.business_date).where(
                notifications.c.kind == "pre_report_notice"
            )
        ).all()
    assert kinds == [("pre_report_notice", date(2026, 5, 10))]


@pytest.mark.parametrize(
    ("drawn_on", "may_status"),
    [
        ("2026-03-28", "2"),  # day 30 on 28 May: noticed 3 days before the report
        ("2026-03-29", "N"),  # day 30 on 29 May: 2 days is too short, May waits
    ],
)
def test_the_notice_lead_decides_which_month_is_reported(
    engine: sa.Engine, drawn_on: str, may_status: str
) -> None:
    outcome = run_yaml(
        engine,
        f"""
start: 2026-03-28
end: 2026-07-01
borrowers: [{{id: bo, monthly_income: "9000.00"}}]
steps:
  - date: 2026-03-28
    open_line: {{borrower: bo, product: weilidai, limit: "9000.00", daily_rate: "0.0004"}}
  - date: {drawn_on}
    draw:
      {{borrower: bo, product: weilidai, amount: "5000.00", term_months: 5,
       method: equal_principal}}
""",
    )
    records = _bureau(outcome["final"], "bo", "weilidai")
    assert records["2026-05"]["status"] == may_status
    # Still late at the end of June (over 60 days): reported 3 either way.
    assert records["2026-06"]["status"] == "3"


def test_a_dispute_answered_late_raises_one_alert(engine: sa.Engine) -> None:
    outcome = run_example(engine, "dispute_answered_late")
    alerts = _events(outcome, "dispute_alert")
    assert [(a["date"], a["month"], a["answered"]) for a in alerts] == [
        ("2026-06-23", "2026-05", False)
    ]
    resolved = _events(outcome, "dispute_resolved")
    assert [(r["date"], r["outcome"], r["late"]) for r in resolved] == [
        ("2026-06-26", "confirmed", True)
    ]
    during = _bureau(outcome["snapshots"]["under_dispute"], "bo", "weilidai")["2026-05"]
    after = _bureau(outcome["final"], "bo", "weilidai")["2026-05"]
    assert (during["status"], during["disputed"]) == ("2", True)
    assert (after["status"], after["disputed"]) == ("2", False)


CORRECTED = """
start: 2026-03-01
end: 2026-07-10
borrowers: [{id: bo, monthly_income: "9000.00"}]
steps:
  - date: 2026-03-01
    open_line: {borrower: bo, product: weilidai, limit: "20000.00", daily_rate: "0.0004"}
  - date: 2026-03-01
    draw:
      {borrower: bo, product: weilidai, amount: "5000.00", term_months: 5,
       method: equal_principal}
  - {date: 2026-05-12, repay: {borrower: bo, product: weilidai, amount: all_due}}
  - {date: 2026-06-01, repay: {borrower: bo, product: weilidai, amount: all_due}}
  - date: 2026-07-03
    dispute: {borrower: bo, product: weilidai, month: 2026-05, claim: "paid on time"}
  - date: 2026-07-05
    resolve_dispute:
      {borrower: bo, product: weilidai, month: 2026-05, outcome: corrected, status: "1"}
  - date: 2026-07-08
    dispute: {borrower: bo, product: weilidai, month: 2026-05, claim: "still wrong"}
  - date: 2026-07-09
    resolve_dispute: {borrower: bo, product: weilidai, month: 2026-05, outcome: unverifiable}
"""


def test_corrected_and_unverifiable_disputes(engine: sa.Engine) -> None:
    outcome = run_yaml(engine, CORRECTED)
    may = _bureau(outcome["final"], "bo", "weilidai")["2026-05"]
    # Corrected to 1, then disputed again and unverifiable: the record and the
    # dispute are both shown.
    assert (may["status"], may["disputed"]) == ("1", True)
    assert _events(outcome, "dispute_alert") == []
    with engine.connect() as conn:
        answers = conn.execute(
            sa.select(bureau_disputes.c.outcome, bureau_disputes.c.previous_status).order_by(
                bureau_disputes.c.dispute_id
            )
        ).all()
    assert answers == [("corrected", "2"), ("unverifiable", None)]
    with engine.connect() as conn:
        grids = conn.execute(
            sa.select(bureau_records.c.period_end, bureau_records.c.history).order_by(
                bureau_records.c.period_end
            )
        ).all()
    # Corrected in July: May's own grid (its last month) and June's (its
    # second to last) change; the months before May do not.
    assert grids == [
        (date(2026, 3, 31), "-" * 23 + "N"),
        (date(2026, 4, 30), "-" * 22 + "NN"),
        (date(2026, 5, 31), "-" * 21 + "NN1"),
        (date(2026, 6, 30), "-" * 20 + "NN1N"),
    ]


def test_refused_bureau_commands_write_nothing(engine: sa.Engine) -> None:
    run_example(engine, "dispute_answered_late")
    before = dump(engine)
    may = date(2026, 5, 31)
    with (
        pytest.raises(RefusedError, match="no weilidai record was reported for 2026-01"),
        engine.begin() as conn,
    ):
        file_dispute(open_context(conn), "bo", "weilidai", date(2026, 1, 31), "wrong")
    with pytest.raises(InputError, match=r"^claim"), engine.begin() as conn:
        file_dispute(open_context(conn), "bo", "weilidai", may, "  ")
    with pytest.raises(RefusedError, match="is not disputed"), engine.begin() as conn:
        resolve_dispute(open_context(conn), "bo", "weilidai", may, "confirmed")
    with pytest.raises(InputError, match=r"^outcome"), engine.begin() as conn:
        resolve_dispute(open_context(conn), "bo", "weilidai", may, "deleted")
    with pytest.raises(InputError, match=r"^reason"), engine.begin() as conn:
        record_inquiry(open_context(conn), "bo", "ant", "curiosity")
    with pytest.raises(InputError, match=r"^inquirer"), engine.begin() as conn:
        record_inquiry(open_context(conn), "bo", "nobody", "loan_approval")
    with pytest.raises(RefusedError, match="not registered"), engine.begin() as conn:
        record_inquiry(open_context(conn), "eve", "ant", "loan_approval")
    assert dump(engine) == before


def test_two_free_self_queries_a_calendar_year(engine: sa.Engine) -> None:
    outcome = run_yaml(
        engine,
        """
start: 2026-12-29
end: 2027-01-02
borrowers: [{id: bo, monthly_income: "9000.00"}]
steps:
  - {date: 2026-12-29, self_query: {borrower: bo}}
  - {date: 2026-12-30, self_query: {borrower: bo}}
  - {date: 2026-12-31, self_query: {borrower: bo}}
  - {date: 2027-01-01, self_query: {borrower: bo}}
""",
    )
    assert [e["charged"] for e in _events(outcome, "self_query")] == [False, False, True, False]


def test_the_credit_report_reads_like_one(engine: sa.Engine) -> None:
    run_example(engine, "dispute_answered_late")
    with engine.begin() as conn:
        record_inquiry(open_context(conn), "bo", "ant", "loan_approval")
        report = credit_report(conn, "bo", date(2026, 6, 29))
    (account,) = report.accounts
    # 24 months ending May 2026: nothing before March, then N, N, 2.
    assert "".join(account["grid"]) == "-" * 21 + "NN2"
    assert account["latest"]["status"] == "2"
    assert [(i["inquirer"], i["reason"]) for i in report.inquiries] == [
        ("ant", "loan_approval"),
        ("self", "self_query"),
    ]
    console = Console(width=200, record=True)
    console.print(render_report(report))
    text = console.export_text()
    assert "Personal credit report" in text
    assert "-" * 21 + "NN2" in text
    assert "Hospitalised 28 March to 10 May" in text
    assert "confirmed on 2026-06-26" in text
    assert "loan approval" in text
    # Cured on 12 May 2026 (the repayment): shown for 5 years, to 11 May 2031.
    assert "2026-05: reported 31–60 days late; shown until 2031-05-11" in text


def test_bureau_report_cli(engine: sa.Engine, database_url: str) -> None:
    run_example(engine, "dispute_answered_late")
    runner = CliRunner()
    shown = runner.invoke(app, ["bureau", "report", "bo", "--database", database_url])
    assert shown.exit_code == 0, shown.output
    assert "NN2" in shown.output
    unknown = runner.invoke(app, ["bureau", "report", "eve", "--database", database_url])
    assert unknown.exit_code == 2
    assert "borrower: 'eve' is not registered" in unknown.output


def test_a_record_leaves_the_report_5_years_after_the_cure(engine: sa.Engine) -> None:
    """The 45-day example, then the report on the last day shown and the day after."""
    run_example(engine, "ant_overdue_45_days_reported")
    with engine.connect() as conn:
        shown = credit_report(conn, "ning", date(2031, 5, 24))
        gone = credit_report(conn, "ning", date(2031, 5, 25))
    # Repaid on 25 May 2026: the May record ended then and is shown through 24 May 2031.
    assert [(n["month"], n["status"]) for n in shown.negatives] == [(date(2026, 5, 31), "2")]
    assert shown.negatives[0]["shown_until"] == date(2031, 5, 24)
    assert (shown.hidden_records, gone.hidden_records, gone.negatives) == (0, 1, [])


def test_the_five_year_example_runs_through_every_day(tmp_path: Path) -> None:
    """The example itself, on SQLite only: 1,910 closes on PostgreSQL too would add a
    minute and a half to the suite for the same SQL the test above runs on both."""
    engine = make_engine(f"sqlite:///{tmp_path / 'five_years.db'}")
    outcome = run_yaml(
        engine, (EXAMPLES / "negative_record_expires_after_5_years.yaml").read_text()
    )
    last = _bureau(outcome["snapshots"]["last_day_shown"], "ning", "huabei")["2026-05"]
    first = _bureau(outcome["snapshots"]["first_day_hidden"], "ning", "huabei")["2026-05"]
    assert (last["status"], last["visible"]) == ("2", True)
    assert (first["status"], first["visible"]) == ("2", False)
    assert outcome["ledger"]["balanced"]
