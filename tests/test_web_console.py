"""The risk console, in process: what ant's and webank's staff see of the book in
``tests.web_support``, and what the console's forms change.

Every figure a page shows is recomputed here straight from the database (or from the
book's story), never from the function that rendered it; every refused post leaves the
database exactly as it was.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date

import httpx
import pytest
import sqlalchemy as sa

from crossline.store.schema import (
    audit_log,
    bureau_disputes,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    current_scores,
    decisions,
    policies,
)
from crossline.web import console_decisions
from tests.helpers import dump
from tests.test_applications import small_policy
from tests.web_support import TODAY, Site


def _table(text: str, table: str) -> str:
    """One table of a page, by its id ('' when the page has none)."""
    found = re.search(rf'<table[^>]* id="{table}">(.*?)</table>', text, re.S)
    return "" if found is None else found.group(1)


def _attrs(text: str, table: str, name: str) -> list[str]:
    """The values of ``data-<name>`` on the rows of one table, in page order."""
    return re.findall(rf'<tr data-{name}="([^"]+)"', _table(text, table))


# --- the dispute queue ------------------------------------------------------------------


def _dispute_rows(text: str, table: str) -> list[str]:
    """The dispute ids listed in one of the queue's tables."""
    found = re.search(rf'<table id="{table}">(.*?)</table>', text, re.S)
    return [] if found is None else re.findall(r'data-dispute="(\d+)"', found.group(1))


def test_ant_s_queue_holds_ning_s_dispute_with_the_days_left_to_answer(site: Site) -> None:
    site.log_in("olga")
    text = site.client.get("/console/disputes").text
    with site.engine.connect() as conn:
        ant = conn.execute(
            sa.select(bureau_disputes.c.dispute_id, bureau_disputes.c.due_on).where(
                bureau_disputes.c.product.in_(["huabei", "jiebei"])
            )
        ).all()
    [(dispute_id, due_on)] = ant
    assert _dispute_rows(text, "open-disputes") == [str(dispute_id)]
    # filed on 2 May, 20 days to answer: due 22 May, 19 days after 3 May
    assert (due_on, TODAY) == (date(2026, 5, 22), date(2026, 5, 3))
    assert "19 days left" in text
    assert "data-overdue" not in text
    assert "I paid on time; the bank transfer was delayed" in text


def test_a_dispute_past_its_due_day_is_flagged_overdue(site: Site) -> None:
    with site.engine.begin() as conn:
        conn.execute(sa.update(bureau_disputes).values(due_on=date(2026, 5, 1)))
    site.log_in("olga")
    text = site.client.get("/console/disputes").text
    assert "overdue by 2 days" in text
    assert "data-overdue" in text


def test_webank_s_operator_does_not_see_ant_s_dispute(site: Site) -> None:
    site.log_in("wendy")
    text = site.client.get("/console/disputes").text
    assert _dispute_rows(text, "open-disputes") == []
    assert "bank transfer was delayed" not in text


def _answer(site: Site, dispute_id: int, csrf: str, **fields: str) -> httpx.Response:
    return site.client.post(
        f"/console/disputes/{dispute_id}/answer",
        data={"csrf": csrf, **fields},
        follow_redirects=False,
    )


def test_answering_from_the_form_corrects_the_record_and_is_audited(site: Site) -> None:
    site.log_in("olga")
    csrf = site.csrf("/console/disputes")
    answer = site.client.post(
        "/console/disputes/1/answer",
        data={"csrf": csrf, "outcome": "corrected", "status": "C"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/disputes?done=answered"
    d, r = bureau_disputes.c, bureau_records.c
    with site.engine.connect() as conn:
        dispute = conn.execute(sa.select(bureau_disputes).where(d.dispute_id == 1)).one()
        record = conn.execute(
            sa.select(r.status, r.history).where(
                r.credit_line_id == dispute.credit_line_id, r.period_end == dispute.period_end
            )
        ).one()
        audit = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.role, audit_log.c.action, audit_log.c.target)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        ).one()
    assert (dispute.outcome, dispute.previous_status, dispute.resolved_on) == (
        "corrected",
        "N",
        TODAY,
    )
    # April is the last month of the April record's grid
    assert (record.status, record.history[-1]) == ("C", "C")
    assert tuple(audit) == ("olga", "operator", "resolve_dispute", "borrower:ning")
    shown = site.client.get(answer.headers["location"]).text
    assert "The dispute is answered" in shown
    assert _dispute_rows(shown, "open-disputes") == []
    assert _dispute_rows(shown, "answered-disputes") == ["1"]


def test_a_confirmed_dispute_lifts_the_flag_and_leaves_the_record(site: Site) -> None:
    site.log_in("rita")
    with site.engine.connect() as conn:
        before = conn.execute(sa.select(bureau_records).order_by(bureau_records.c.period_end)).all()
    answer = _answer(site, 1, site.csrf("/console/disputes"), outcome="confirmed")
    assert answer.status_code == 303
    with site.engine.connect() as conn:
        after = conn.execute(sa.select(bureau_records).order_by(bureau_records.c.period_end)).all()
        outcome = conn.execute(sa.select(bureau_disputes.c.outcome)).scalar_one()
    assert (outcome, after) == ("confirmed", before)


def test_a_post_without_a_valid_csrf_token_is_403_and_changes_nothing(site: Site) -> None:
    site.log_in("olga")
    before = dump(site.engine)
    for csrf in ("", "0" * 64):
        answer = _answer(site, 1, csrf, outcome="confirmed")
        assert answer.status_code == 403
    assert dump(site.engine) == before


def test_another_group_s_dispute_cannot_be_answered(site: Site) -> None:
    site.log_in("wendy")
    before = dump(site.engine)
    answer = _answer(site, 1, site.csrf("/console/disputes"), outcome="confirmed")
    assert answer.status_code == 404
    assert dump(site.engine) == before


def test_a_bad_outcome_is_400_naming_the_field_and_changes_nothing(site: Site) -> None:
    site.log_in("olga")
    before = dump(site.engine)
    answer = site.client.post(
        "/console/disputes/1/answer",
        data={"csrf": site.csrf("/console/disputes"), "outcome": "deleted"},
    )
    assert answer.status_code == 400
    assert 'data-field="outcome"' in answer.text
    assert dump(site.engine) == before


def test_a_borrower_may_not_open_the_console(site: Site) -> None:
    site.log_in("ning")
    pages = ("", "/disputes", "/borrowers", "/borrowers/ning", "/decisions", "/decisions/1")
    for path in (*pages, "/policies"):
        assert site.client.get(f"/console{path}").status_code == 403, path
    before = dump(site.engine)
    answer = site.client.post(
        "/console/disputes/1/answer",
        data={"csrf": site.csrf("/portal"), "outcome": "confirmed"},
    )
    assert answer.status_code == 403
    assert dump(site.engine) == before


# --- borrowers --------------------------------------------------------------------------


def test_search_finds_borrowers_by_the_start_of_their_id(site: Site) -> None:
    site.log_in("olga")
    assert re.findall(
        r'href="/console/borrowers/(\w+)"', site.client.get("/console/borrowers?q=n").text
    ) == ["ning"]
    # a wildcard is a character, not a pattern
    text = site.client.get("/console/borrowers?q=%25").text
    assert 'id="none-found"' in text and "/console/borrowers/ning" not in text


def _group_rows(site: Site, group: str) -> tuple[list[str], list[int], tuple[int, str]]:
    """From the database: the group's own lines of ning, its decisions about her, newest
    first, and its current score of her with its band."""
    c, d, s = credit_lines.c, decisions.c, current_scores.c
    with site.engine.connect() as conn:
        lines = conn.execute(
            sa.select(c.product)
            .where(c.borrower_id == "ning", c.lender_group == group)
            .order_by(c.product)
        ).scalars()
        made = conn.execute(
            sa.select(d.decision_id)
            .where(d.borrower_id == "ning", d.lender_group == group)
            .order_by(d.business_date.desc(), d.decision_id.desc())
        ).scalars()
        score = conn.execute(
            sa.select(s.score, s.band).where(s.borrower_id == "ning", s.lender_group == group)
        ).one()
        return list(lines), list(made), (score.score, score.band)


def _inquiries(site: Site) -> list[tuple[object, ...]]:
    q = bureau_inquiries.c
    with site.engine.connect() as conn:
        rows = conn.execute(
            sa.select(q.borrower_id, q.inquirer, q.reason, q.hard, q.inquired_on).order_by(
                q.inquiry_id
            )
        )
        return [tuple(row) for row in rows]


def _pull_report(site: Site, borrower: str) -> str:
    path = f"/console/borrowers/{borrower}"
    pulled = site.client.post(f"{path}/credit-report", data={"csrf": site.csrf(path)})
    assert pulled.status_code == 200, pulled.text
    return pulled.text


def test_the_360_reads_other_groups_only_through_a_recorded_pull(site: Site) -> None:
    site.log_in("olga")
    before = _inquiries(site)
    text = site.client.get("/console/borrowers/ning").text
    assert 'id="pull-report"' in text and _table(text, "bureau") == ""
    assert _inquiries(site) == before
    _pull_report(site, "ning")
    assert _inquiries(site) == [*before, ("ning", "ant", "post_loan_management", False, TODAY)]
    refused = site.client.post("/console/borrowers/ning/credit-report", data={"csrf": "0" * 64})
    assert refused.status_code == 403
    assert len(_inquiries(site)) == len(before) + 1


def test_ant_s_360_of_ning_shows_ant_live_and_webank_as_reported(site: Site) -> None:
    site.log_in("olga")
    text = _pull_report(site, "ning")
    lines, made, (score, band) = _group_rows(site, "ant")
    assert lines == ["huabei"]
    assert _attrs(text, "lines", "product") == lines
    # Huabei: ¥6400.00 limit after the cure, ¥600.00 bought on 25 April and not yet paid
    assert "¥6400.00" in _table(text, "lines") and "¥600.00" in _table(text, "lines")
    # webank's Weilidai only as its April record: 3000.00 less one installment of 600.00
    assert _attrs(text, "bureau", "product") == ["weilidai"]
    assert "¥2400.00" in _table(text, "bureau")
    assert f'<div class="big">{score}</div>' in text and f"band-{band}" in text
    decided = [int(i) for i in re.findall(r'data-source="decision" data-id="(\d+)"', text)]
    assert decided == made and len(made) == 5
    # the national ID is masked as the API masks it
    assert "110105********002X" in text and "11010519491231002X" not in text
    # and so is the phone number
    assert "138****8000" in text and "13800138000" not in text


def test_webank_s_360_of_ning_shows_huabei_only_as_reported(site: Site) -> None:
    site.log_in("wendy")
    text = _pull_report(site, "ning")
    lines, made, (score, _band) = _group_rows(site, "webank")
    assert _attrs(text, "lines", "product") == lines == ["weilidai"]
    assert _attrs(text, "bureau", "product") == ["huabei"]
    # Huabei was 9 days late in April: below the 30-day threshold it was reported as N,
    # and that is all webank sees (ant's own grid holds the actual 1)
    grid = re.search(r'<tr data-product="huabei"><th>huabei</th>(.*?)</tr>', text, re.S)
    assert grid is not None
    assert re.findall(r"<td[^>]*>(.)</td>", grid.group(1))[-2:] == ["N", "N"]
    decided = [int(i) for i in re.findall(r'data-source="decision" data-id="(\d+)"', text)]
    assert decided == made == [5, 2]
    # none of ant's decisions, scores or events about Huabei
    assert "policy ant-default-1" not in text
    assert 'data-group="ant"' not in text and f'<div class="big">{score}</div>' in text
    assert _timeline_rows(text, "huabei") == ""
    assert _timeline_rows(text, "weilidai") != ""


def _timeline_rows(text: str, product: str) -> str:
    """The timeline's rows about ``product``, joined."""
    rows = re.findall(r"<tr data-source=.*?</tr>", _table(text, "timeline"), re.S)
    return "".join(row for row in rows if f"<td>{product}</td>" in row)


def test_an_unknown_borrower_is_404(site: Site) -> None:
    site.log_in("olga")
    assert site.client.get("/console/borrowers/nobody").status_code == 404


# --- the decisions explorer -------------------------------------------------------------


def _sql_counts(site: Site, where: str, **params: object) -> dict[str, int]:
    """Decisions per outcome counted in plain SQL, apart from the explorer's query."""
    with site.engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"select outcome, count(*) from decisions where {where} group by outcome"),
            params,
        ).all()
    return {row[0]: row[1] for row in rows}


def _shown_counts(text: str) -> dict[str, int]:
    return {
        outcome: int(n)
        for outcome, n in re.findall(
            r'<tr data-outcome="(\w+)"><td>\w+</td><td class="num">(\d+)</td>', text
        )
    }


def test_the_explorer_s_counts_equal_a_direct_count_for_the_filter(site: Site) -> None:
    site.log_in("olga")
    cases = [
        ("", "lender_group = 'ant'", {}),
        (
            "from=2026-03-03&to=2026-04-30&kind=authorisation&product=huabei",
            "lender_group = 'ant' and business_date between :a and :b "
            "and kind = 'authorisation' and product = 'huabei'",
            {"a": "2026-03-03", "b": "2026-04-30"},
        ),
        (
            "kind=review&outcome=restore",
            "lender_group = 'ant' and kind = 'review' and outcome = 'restore'",
            {},
        ),
    ]
    for query, where, params in cases:
        text = site.client.get(f"/console/decisions?{query}").text
        expected = _sql_counts(site, where, **params)
        assert expected and _shown_counts(text) == expected, query
        assert f"<strong>{sum(expected.values())}</strong>" in text
    # by reason code: the reasons JSON read back in Python
    with site.engine.connect() as conn:
        stored = conn.execute(
            sa.select(decisions.c.decision_id, decisions.c.reasons).where(
                decisions.c.lender_group == "ant"
            )
        ).all()
    paused = sorted(
        str(i) for i, reasons in stored if "overdue_now" in {r["code"] for r in json.loads(reasons)}
    )
    text = site.client.get("/console/decisions?reason=overdue_now").text
    assert sorted(_attrs(text, "decisions", "decision")) == paused == ["7"]


def test_the_explorer_pages_through_the_filter_newest_first(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_decisions, "PAGE_SIZE", 2)
    site.log_in("olga")
    shown: list[str] = []
    path: str | None = "/console/decisions?kind="
    while path is not None:
        text = site.client.get(path).text
        shown += _attrs(text, "decisions", "decision")
        following = re.search(r'href="(/console/decisions\?[^"]+)" rel="next"', text)
        path = None if following is None else following.group(1).replace("&amp;", "&")
    d = decisions.c
    with site.engine.connect() as conn:
        expected = conn.execute(
            sa.select(d.decision_id)
            .where(d.lender_group == "ant")
            .order_by(d.business_date.desc(), d.decision_id.desc())
        ).scalars()
        assert shown == [str(i) for i in expected]


def test_webank_s_explorer_holds_no_decision_of_ant(site: Site) -> None:
    site.log_in("wendy")
    text = site.client.get("/console/decisions").text
    d = decisions.c
    with site.engine.connect() as conn:
        webank = conn.execute(
            sa.select(d.decision_id)
            .where(d.lender_group == "webank")
            .order_by(d.business_date.desc(), d.decision_id.desc())
        ).scalars()
        assert _attrs(text, "decisions", "decision") == [str(i) for i in webank]
    assert "huabei" not in _table(text, "decisions")
    # ant's first decision, ning's Huabei application: not there for webank
    assert site.client.get("/console/decisions/1").status_code == 404
    assert site.client.get("/console/decisions/x1").status_code == 404


def test_a_decision_page_shows_its_inputs_outputs_reasons_and_policy(site: Site) -> None:
    site.log_in("olga")
    answer = site.client.get("/console/decisions/7")
    assert answer.status_code == 200
    with site.engine.connect() as conn:
        row = conn.execute(sa.select(decisions).where(decisions.c.decision_id == 7)).one()
    assert f"{row.policy_version} ({row.arm})" in answer.text
    [reason] = json.loads(row.reasons)
    assert f'data-reason="{reason["code"]}"' in answer.text and reason["text"] in answer.text
    inputs = re.search(r'<pre id="inputs">(.*?)</pre>', answer.text, re.S)
    assert inputs is not None
    assert json.loads(html.unescape(inputs.group(1))) == json.loads(row.inputs)


def test_a_bad_filter_is_400_naming_the_field(site: Site) -> None:
    site.log_in("olga")
    for query, field in (("from=3%20May", "from"), ("kind=loan", "kind"), ("page=0", "page")):
        answer = site.client.get(f"/console/decisions?{query}")
        assert answer.status_code == 400, query
        assert f'data-field="{field}"' in answer.text


# --- policies ---------------------------------------------------------------------------


def _policy_text(version: str = "ant-test-1") -> str:
    return json.dumps(small_policy(version), indent=1)


def _check(site: Site, action: str, text: str, **window: str) -> httpx.Response:
    data = {"csrf": site.csrf("/console/policies"), "policy": text, "action": action}
    return site.client.post("/console/policies/check", data=data | window)


def test_validating_a_candidate_lists_its_tables_and_stores_nothing(site: Site) -> None:
    site.log_in("olga")
    before = dump(site.engine)
    answer = _check(site, "validate", _policy_text())
    assert answer.status_code == 200, answer.text
    tables = re.findall(
        r'<tr data-table="([^"]+)"><td>[^<]*</td><td class="num">(\d+)</td>', answer.text
    )
    # small_policy: a veto table of one row and an offer table of four
    assert [(html.unescape(t).split(" ")[2], int(n)) for t, n in tables] == [
        ("Veto", 1),
        ("Offer", 4),
    ]
    assert dump(site.engine) == before


def test_a_bad_policy_shows_the_error_naming_where_and_keeps_the_text(site: Site) -> None:
    policy = small_policy()
    policy["decisions"]["application"]["nodes"][2]["content"]["rules"][3]["o_tier"] = '"Z"'
    site.log_in("olga")
    before = dump(site.engine)
    for action in ("validate", "backtest"):
        answer = _check(
            site, action, json.dumps(policy), **{"from": "2026-03-01", "to": "2026-05-03"}
        )
        assert answer.status_code == 400
        error = re.search(
            r'<p [^>]*id="policy-error"[^>]*data-field="policy">(.*?)</p>', answer.text, re.S
        )
        assert error is not None
        assert "node 'Offer' › row 'offer4' › column 'tier'" in html.unescape(error.group(1))
        kept = re.search(r'<textarea name="policy"[^>]*>(.*?)</textarea>', answer.text, re.S)
        assert kept is not None and html.unescape(kept.group(1)) == json.dumps(policy)
    assert dump(site.engine) == before


def test_a_backtest_shows_each_version_s_rates_and_limits(site: Site) -> None:
    site.log_in("olga")
    window = {"from": "2026-03-01", "to": "2026-05-03"}
    answer = _check(site, "backtest", _policy_text(), **window)
    assert answer.status_code == 200, answer.text
    d = decisions.c
    with site.engine.connect() as conn:
        applied = conn.execute(
            sa.select(d.decision_id, d.outcome, d.policy_version).where(
                d.lender_group == "ant",
                d.kind == "application",
                d.business_date.between(date(2026, 3, 1), date(2026, 5, 3)),
            )
        ).all()
    # ning's Huabei application, approved by the shipped policy at ¥8000.00
    [(_id, outcome, version)] = applied
    assert outcome == "approved"
    row = re.search(rf'<tr data-version="{version}">(.*?)</tr>', answer.text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[:5] == ["1", "1.0000", "0.0000", "¥8000.00", "¥8000.00"]
    assert 'data-version="ant-test-1" data-candidate' in answer.text


def test_an_operator_may_not_upload_or_activate_and_nothing_is_written(site: Site) -> None:
    site.log_in("olga")
    text = site.client.get("/console/policies").text
    assert re.search(r'formaction="/console/policies/upload"[^>]*disabled', text)
    csrf = site.csrf("/console/policies")
    before = dump(site.engine)
    uploaded = site.client.post(
        "/console/policies/upload", data={"csrf": csrf, "policy": _policy_text()}
    )
    activated = site.client.post(
        "/console/policies/ant-default-1/activation", data={"csrf": csrf, "arm": "champion"}
    )
    assert (uploaded.status_code, activated.status_code) == (403, 403)
    assert 'data-code="forbidden"' in uploaded.text
    assert dump(site.engine) == before


def test_a_risk_admin_uploads_then_activates_a_challenger(site: Site) -> None:
    site.log_in("rita")
    csrf = site.csrf("/console/policies")
    uploaded = site.client.post(
        "/console/policies/upload",
        data={"csrf": csrf, "policy": _policy_text()},
        follow_redirects=False,
    )
    assert uploaded.headers["location"] == "/console/policies?done=uploaded"
    activated = site.client.post(
        "/console/policies/ant-test-1/activation",
        data={"csrf": csrf, "arm": "challenger", "share": "30"},
        follow_redirects=False,
    )
    assert activated.headers["location"] == "/console/policies?done=activated"
    p, a = policies.c, audit_log.c
    with site.engine.connect() as conn:
        stored = conn.execute(
            sa.select(p.lender_group, p.version, p.role, p.challenger_share)
        ).all()
        audited = conn.execute(
            sa.select(a.actor, a.action, a.target).where(a.action.like("%_policy"))
        ).all()
    assert [tuple(r) for r in stored] == [("ant", "ant-test-1", "challenger", 30)]
    assert [tuple(r) for r in audited] == [
        ("rita", "upload_policy", "policy:ant/ant-test-1"),
        ("rita", "activate_policy", "policy:ant/ant-test-1"),
    ]
    text = site.client.get("/console/policies?done=activated").text
    assert "The policy now decides for your group." in text
    assert re.search(
        r'<tr data-arm="challenger"><td>challenger</td><td>ant-test-1</td>\s*<td>30%', text
    )


def test_a_bad_share_is_400_naming_the_field_and_changes_nothing(site: Site) -> None:
    site.log_in("rita")
    csrf = site.csrf("/console/policies")
    before = dump(site.engine)
    for share in ("", "thirty", "100"):
        answer = site.client.post(
            "/console/policies/ant-default-1/activation",
            data={"csrf": csrf, "arm": "challenger", "share": share},
        )
        assert answer.status_code == 400, share
        assert 'data-field="challenger_share"' in answer.text
    assert dump(site.engine) == before


def test_webank_staff_may_not_check_ant_s_policy(site: Site) -> None:
    site.log_in("wendy")
    before = dump(site.engine)
    answer = _check(site, "validate", _policy_text())
    assert answer.status_code == 403
    assert 'data-code="forbidden"' in answer.text and 'id="tables"' not in answer.text
    assert dump(site.engine) == before
