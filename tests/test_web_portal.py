"""The borrower portal, in process: what a borrower sees, and what they may not."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.store.schema import (
    bureau_disputes,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    installments,
    loans,
    statements,
)
from crossline.web.portal import WhatIfForm, dues, grid_cells, hypothetical_steps
from tests.helpers import dump, journal_rows, yuan
from tests.web_support import TODAY, Site


def test_a_page_without_a_session_sends_the_browser_to_log_in(site: Site) -> None:
    answer = site.client.get("/portal", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/portal"


def test_pages_carry_the_security_headers_and_the_api_s_json_does_not(site: Site) -> None:
    site.log_in("ning")
    page = site.client.get("/portal")
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-content-type-options"] == "nosniff"
    api = site.client.get("/v1/business-date")
    assert api.headers["content-type"] == "application/json"
    assert "content-security-policy" not in api.headers
    assert "x-frame-options" not in api.headers


def test_the_home_page_shows_each_group_s_score_and_every_line(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal").text
    groups = re.findall(r'data-group="(\w+)"', text)
    assert groups == ["ant", "lexin", "webank"]
    assert re.findall(r'<tr data-product="(\w+)"', text) == ["huabei", "weilidai"]
    # Huabei: 600.00 bought on 25 April, nothing of it paid yet.
    assert "¥600.00" in text
    assert "Your overdue payment has been made" in text


def _csrf_and_key(site: Site, path: str) -> tuple[str, str]:
    """The CSRF token and the idempotency key the repay form of ``path`` carries."""
    text = site.client.get(path).text
    key = re.search(r'name="key" value="([^"]+)"', text)
    assert key is not None
    return site.csrf(path), key.group(1)


def _unpaid_principal_fen(engine: sa.Engine, borrower: str, product: str) -> int:
    """What is still owed in principal on a line's loans, summed from the installments."""
    i, loan = installments.c, loans.c
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.sum(i.principal_fen - i.paid_principal_fen))
                .select_from(installments.join(loans, i.loan_id == loan.loan_id))
                .where(loan.borrower_id == borrower, loan.product == product)
            ).scalar_one()
        )


def _rows(text: str, table_id: str) -> list[list[str]]:
    """The cells of each data row of the table with ``table_id``, tags stripped."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', text, re.S)
    assert match is not None, table_id
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1), re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [[re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in row] for row in cells if row]


def test_the_line_page_shows_the_line_its_history_statements_and_schedule(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal/lines/huabei").text
    c, s = credit_lines.c, statements.c
    with site.engine.connect() as conn:
        line = conn.execute(
            sa.select(c.credit_line_id, c.limit_fen, c.status).where(
                c.borrower_id == "ning", c.product == "huabei"
            )
        ).one()
        billed = conn.execute(
            sa.select(s.statement_date, s.due_date, s.balance_fen, s.minimum_fen)
            .where(s.credit_line_id == line.credit_line_id)
            .order_by(s.statement_date.desc())
        ).all()
    top = _rows(text, "line")[0]
    assert top[0] == line.status == "active"
    assert top[1] == f"¥{yuan(Decimal(line.limit_fen) / 100)}"
    assert top[4] == "¥600.00"  # the 25 April purchase, not yet paid
    assert _rows(text, "statements") == [
        [
            str(r.statement_date),
            str(r.due_date),
            f"¥{yuan(Decimal(r.balance_fen) / 100)}",
            f"¥{yuan(Decimal(r.minimum_fen) / 100)}",
        ]
        for r in billed
    ]
    assert len(billed) == 2
    history = _rows(text, "history")
    assert [row[:3] for row in history] == [
        ["2026-04-20", "review", "restore"],
        ["2026-04-15", "review", "pause"],
        ["2026-03-02", "application", "approved"],
    ]
    assert "overdue" in history[1][3]
    # Bill installments are offered while the May statement is not yet due.
    assert re.findall(r'<option value="(\d+)">\d+ months', text) == ["3", "6", "9", "12"]


def test_a_line_the_borrower_does_not_hold_is_not_found(site: Site) -> None:
    site.log_in("bohai")
    assert site.client.get("/portal/lines/weilidai").status_code == 200
    for product in ("huabei", "jiebei", "nosuch"):
        answer = site.client.get(f"/portal/lines/{product}")
        assert answer.status_code == 404, product
        assert 'data-code="not_found"' in answer.text
    before = dump(site.engine)
    csrf, key = _csrf_and_key(site, "/portal/lines/weilidai")
    form = {"csrf": csrf, "key": key, "pay": "amount", "amount": "10.00"}
    answer = site.client.post("/portal/lines/huabei/repay", data=form, follow_redirects=False)
    assert answer.status_code == 404
    assert dump(site.engine) == before


def test_a_borrower_may_not_open_the_console(site: Site) -> None:
    site.log_in("ning")
    answer = site.client.get("/console")
    assert answer.status_code == 403
    assert 'data-code="forbidden"' in answer.text


def test_a_repayment_moves_the_journal_once_even_when_the_form_is_posted_twice(
    site: Site,
) -> None:
    site.log_in("ning")
    csrf, key = _csrf_and_key(site, "/portal/lines/huabei")
    form = {"csrf": csrf, "key": key, "pay": "amount", "amount": "100.00"}
    before = _unpaid_principal_fen(site.engine, "ning", "huabei")
    entries = len(journal_rows(site.engine))
    first = site.client.post("/portal/lines/huabei/repay", data=form, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/portal/lines/huabei?done=repaid"
    assert _unpaid_principal_fen(site.engine, "ning", "huabei") == before - 100_00
    moved = len(journal_rows(site.engine))
    assert moved > entries
    shown = site.client.get(first.headers["location"]).text
    assert "Your payment was taken." in shown
    assert _rows(shown, "line")[0][4] == "¥500.00"

    again = site.client.post("/portal/lines/huabei/repay", data=form, follow_redirects=False)
    assert again.headers["location"] == "/portal/lines/huabei?done=replayed"
    assert _unpaid_principal_fen(site.engine, "ning", "huabei") == before - 100_00
    assert len(journal_rows(site.engine)) == moved


def test_everything_owed_clears_the_line(site: Site) -> None:
    site.log_in("ning")
    csrf, key = _csrf_and_key(site, "/portal/lines/weilidai")
    form = {"csrf": csrf, "key": key, "pay": "all", "amount": ""}
    answer = site.client.post("/portal/lines/weilidai/repay", data=form)
    assert answer.status_code == 200
    assert _unpaid_principal_fen(site.engine, "ning", "weilidai") == 0
    assert "You owe nothing on this line." in answer.text


def test_a_form_without_our_csrf_token_is_refused_and_writes_nothing(site: Site) -> None:
    site.log_in("ning")
    _, key = _csrf_and_key(site, "/portal/lines/huabei")
    before = dump(site.engine)
    for csrf in ("", "0" * 64):
        form = {"csrf": csrf, "key": key, "pay": "all", "amount": ""}
        answer = site.client.post("/portal/lines/huabei/repay", data=form)
        assert answer.status_code == 403
        assert 'data-code="forbidden"' in answer.text
    assert dump(site.engine) == before


@pytest.mark.parametrize(
    ("pay", "amount", "field"),
    [
        ("amount", "abc", "amount"),
        ("amount", "-5.00", "amount"),
        ("amount", "1.234", "amount"),
        ("amount", "", "amount"),
        ("sometime", "", "pay"),
    ],
)
def test_a_bad_repayment_names_its_field_and_writes_nothing(
    site: Site, pay: str, amount: str, field: str
) -> None:
    site.log_in("ning")
    csrf, key = _csrf_and_key(site, "/portal/lines/huabei")
    before = dump(site.engine)
    form = {"csrf": csrf, "key": key, "pay": pay, "amount": amount}
    answer = site.client.post("/portal/lines/huabei/repay", data=form)
    assert answer.status_code == 400
    assert f'data-field="{field}"' in answer.text
    assert dump(site.engine) == before


def _unpaid_by_due_date(engine: sa.Engine, borrower: str, last: date) -> dict[str, int]:
    """Per due date up to ``last``, what is unpaid of the borrower's open installments
    (revolving cycles not yet billed left out), in fen, straight from the table."""
    i, loan = installments.c, loans.c
    unpaid = (i.principal_fen + i.interest_fen + i.fee_fen + i.penalty_fen) - (
        i.paid_principal_fen + i.paid_interest_fen + i.paid_fee_fen + i.paid_penalty_fen
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(i.due_date, sa.func.sum(unpaid))
            .select_from(installments.join(loans, i.loan_id == loan.loan_id))
            .where(
                loan.borrower_id == borrower,
                i.status == "open",
                i.due_date <= last,
                sa.or_(loan.kind != "revolving", i.billed_on.is_not(None)),
            )
            .group_by(i.due_date)
        ).all()
    return {str(day): int(total) for day, total in rows if total > 0}


@pytest.mark.parametrize("borrower", ["ning", "bohai"])
def test_the_dues_calendar_totals_each_date_from_the_schedules(site: Site, borrower: str) -> None:
    site.log_in(borrower)
    text = site.client.get("/portal/dues").text
    expected = _unpaid_by_due_date(site.engine, borrower, TODAY + timedelta(days=60))
    shown = dict(re.findall(r'data-total="([\d-]+)">¥([\d.]+)<', text))
    assert shown == {day: yuan(Decimal(fen) / 100) for day, fen in expected.items()}
    assert 'id="overdue"' not in text  # both pay on time in the book
    if borrower == "ning":  # Weilidai on 6 May and 6 June, Huabei's May bill on 10 May
        assert list(shown) == ["2026-05-06", "2026-05-10", "2026-06-06"]


def _row(due: str, principal: str, paid: str, status: str, seq: int = 1) -> dict[str, Any]:
    zero = {"principal": "0.00", "interest": "0.00", "fee": "0.00", "penalty": "0.00"}
    return {
        "seq": seq,
        "due_date": due,
        "principal": principal,
        "interest": "1.05",
        "fee": "0.00",
        "penalty": "0.00",
        "paid": zero | {"principal": paid},
        "status": status,
    }


def test_dues_put_past_due_rows_first_and_add_up_rows_that_share_a_date() -> None:
    lines = [
        {
            "product": "fenqile",
            "loans": [
                {
                    "id": 7,
                    "schedule": [
                        _row("2026-04-20", "100.00", "40.00", "overdue", 1),
                        _row("2026-05-20", "100.00", "0.00", "scheduled", 2),
                        _row("2026-08-20", "100.00", "0.00", "scheduled", 3),
                    ],
                }
            ],
        },
        {
            "product": "huabei",
            "loans": [
                {
                    "id": 8,
                    "schedule": [
                        _row("2026-04-10", "50.00", "50.00", "paid", 1),
                        _row("2026-05-20", "33.33", "0.00", "billed", 2),
                        _row("2026-06-10", "80.00", "0.00", "cycle", 3),
                    ],
                }
            ],
        },
    ]
    calendar = dues(lines, TODAY)
    assert [(i["product"], i["fen"]) for i in calendar["overdue"]] == [("fenqile", 61_05)]
    assert calendar["overdue_fen"] == 61_05
    assert [(d["date"], d["total_fen"]) for d in calendar["days"]] == [
        (date(2026, 5, 20), 101_05 + 34_38)
    ]


def _inquiries(engine: sa.Engine, borrower: str) -> list[tuple[Any, ...]]:
    q = bureau_inquiries.c
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(q.inquired_on, q.inquirer, q.reason, q.charged).where(
                    q.borrower_id == borrower
                )
            )
        ]


def test_looking_at_the_credit_report_page_pulls_nothing(site: Site) -> None:
    site.log_in("ning")
    before = dump(site.engine)
    text = site.client.get("/portal/credit-report").text
    assert dump(site.engine) == before
    assert re.sub(r"\s+", " ", text).count("<strong>0</strong> times; <strong>2</strong> free") == 1
    assert 'class="grid"' not in text


def test_pulling_the_report_records_one_self_query_and_shows_the_reported_grid(
    site: Site,
) -> None:
    site.log_in("ning")
    before = _inquiries(site.engine, "ning")
    csrf = site.csrf("/portal/credit-report")
    answer = site.client.post("/portal/credit-report", data={"csrf": csrf})
    assert answer.status_code == 200
    after = _inquiries(site.engine, "ning")
    assert sorted(after, key=repr) == sorted(
        [*before, (TODAY, "self", "self_query", False)], key=repr
    )
    text = answer.text
    assert re.sub(r"\s+", " ", text).count("<strong>1</strong> time; <strong>1</strong> free") == 1
    r = bureau_records.c
    with site.engine.connect() as conn:
        reported = conn.execute(
            sa.select(r.product, r.period_end, r.status).where(r.borrower_id == "ning")
        ).all()
    assert len(reported) == 4  # March and April, for each of her two lines
    for product, period_end, status in reported:
        section = text[text.index(f'<section class="account" data-product="{product}">') :]
        cell = re.search(rf'data-month="{period_end:%Y-%m}"[^>]*>([^<]+)<', section)
        assert cell is not None
        disputed = product == "huabei" and f"{period_end:%Y-%m}" == "2026-04"
        assert cell.group(1) == status + ("!" if disputed else "")
    # Her dispute of 2 May is on the report, open, answer due 20 days later.
    assert _rows(text, "report-disputes")[0][3:] == ["2026-05-02", "2026-05-22", "open"]


def test_a_report_pull_without_our_csrf_token_records_nothing(site: Site) -> None:
    site.log_in("ning")
    before = dump(site.engine)
    answer = site.client.post("/portal/credit-report", data={"csrf": "forged"})
    assert answer.status_code == 403
    assert dump(site.engine) == before


def test_the_grid_marks_late_months_and_disputed_ones() -> None:
    months = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    account = {"grid": ["N", "2", "B"], "disputed_months": ["2026-02"]}
    cells = grid_cells(account, months)
    assert [(c["month"], c["late"], c["disputed"]) for c in cells] == [
        ("2026-01", False, False),
        ("2026-02", True, True),
        ("2026-03", True, False),
    ]


def test_a_dispute_filed_from_the_report_is_listed_with_its_due_date(site: Site) -> None:
    site.log_in("ning")
    csrf = site.csrf("/portal/credit-report")
    claim = "I never missed a Weilidai payment"
    form = {"csrf": csrf, "product": "weilidai", "month": "2026-04", "claim": claim}
    answer = site.client.post("/portal/disputes", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/disputes?done=disputed"
    text = site.client.get(answer.headers["location"]).text
    assert "Your dispute was filed" in text
    rows = _rows(text, "disputes")
    assert [
        "Weilidai",
        "2026-04",
        claim,
        str(TODAY),
        str(TODAY + timedelta(days=20)),
        "open",
    ] in rows
    assert len(rows) == 2  # and the Huabei dispute of 2 May
    d = bureau_disputes.c
    with site.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).where(d.borrower_id == "ning", d.product == "weilidai")
            ).scalar_one()
            == 1
        )
    site.log_in("bohai")
    assert "You have not disputed anything." in site.client.get("/portal/disputes").text


def test_a_statement_filed_from_the_report_is_listed(site: Site) -> None:
    site.log_in("ning")
    csrf = site.csrf("/portal/credit-report")
    form = {"csrf": csrf, "product": "huabei", "month": "2026-03", "text": "I was in hospital"}
    answer = site.client.post("/portal/statements", data=form)
    assert answer.status_code == 200
    assert _rows(answer.text, "notes") == [["Huabei", "2026-03", "I was in hospital", str(TODAY)]]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"product": "huabei", "month": "April", "claim": "wrong"}, "month"),
        ({"product": "huabei", "month": "2026-03", "claim": ""}, "claim"),
        ({"product": "huabei", "month": "2026-03", "claim": "x" * 501}, "claim"),
    ],
)
def test_a_bad_dispute_names_its_field_and_writes_nothing(
    site: Site, form: dict[str, str], field: str
) -> None:
    site.log_in("ning")
    csrf = site.csrf("/portal/credit-report")
    before = dump(site.engine)
    answer = site.client.post("/portal/disputes", data={"csrf": csrf} | form)
    assert answer.status_code == 400
    assert f'data-field="{field}"' in answer.text
    assert dump(site.engine) == before


def test_the_what_if_form_projects_nothing_until_asked(site: Site) -> None:
    site.log_in("ning")
    before = dump(site.engine)
    text = site.client.get("/portal/whatif").text
    assert re.findall(r'<option value="(\w+)"', text) == ["huabei", "weilidai"]
    assert "data-chart" not in text
    assert dump(site.engine) == before


def test_huabei_forty_days_late_answers_whether_weilidai_still_lends(site: Site) -> None:
    """The book's version of examples/scenarios/whatif_huabei_40_days_late.yaml: Huabei's
    May bill (due 10 May) paid 40 days late, on 19 June; Weilidai paid on its due dates."""
    site.log_in("ning")
    before = dump(site.engine)
    answer = site.client.get("/portal/whatif?product=huabei&days_late=40&horizon=60")
    assert answer.status_code == 200
    assert dump(site.engine) == before
    text = answer.text
    assumed = re.sub(
        r"\s+",
        " ",
        text[text.index('id="assumed"') : text.index("</p>", text.index('id="assumed"'))],
    )
    assert "2026-05-06 repay Weilidai" in assumed
    assert "2026-06-06 repay Weilidai" in assumed
    assert "2026-06-19 repay Huabei" in assumed  # 10 May + 40 days
    outlook = {row[0]: row for row in _rows(text, "outlook")}
    assert outlook["Huabei"][1] == "no, from 2026-05-15"  # past its 3 days' grace
    assert outlook["Weilidai"][1] == "yes, all along"
    # webank halves Weilidai once Huabei's June month is reported with status 2.
    assert outlook["Weilidai"][3] == "2026-07-01: active, ¥8000.00"
    changes = re.findall(r"<li>(.*?)</li>", text[text.index('id="changes"') :])
    assert any(c.startswith("2026-05-15 Huabei paused: ") for c in changes)
    assert any(
        c.startswith("2026-07-01 Weilidai active, limit ¥16000.00 → ¥8000.00: ") for c in changes
    )
    assert "2026-07-01 Huabei 2026-06 reported to the credit bureau: 2 (31–60 days late)" in [
        c.replace("&lt;", "<") for c in changes
    ]
    figure = json.loads(
        re.search(r'data-chart="chart-whatif">(.*?)</script>', text, re.S).group(1)  # type: ignore[union-attr]
    )
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["ant score", "lexin score", "webank score", "Huabei limit", "Weilidai limit"]
    weilidai = figure["data"][4]["y"]
    assert len(weilidai) == 61  # today's morning and each of the 60 closes
    assert weilidai[0] == 16000 and weilidai[-1] == 8000


def test_repaying_everything_today_keeps_every_line_open(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal/whatif?repay_all=true&horizon=10").text
    assumed = re.sub(r"\s+", " ", text[text.index('id="assumed"') :])
    # Weilidai's payoff: the 2400.00 principal left and its interest since the 6 April
    # installment, 27 days at the loan's daily rate, half-up to the fen.
    with site.engine.connect() as conn:
        rate_units = conn.execute(
            sa.select(loans.c.daily_rate_units).where(
                loans.c.borrower_id == "ning", loans.c.product == "weilidai"
            )
        ).scalar_one()
    interest = yuan(
        Decimal("2400.00") * Decimal(rate_units) / 10**10 * (TODAY - date(2026, 4, 6)).days
    )
    payoff = yuan(Decimal("2400.00") + Decimal(interest))
    assert f"2026-05-03 repay Huabei ¥600.00; 2026-05-03 repay Weilidai ¥{payoff}." in assumed
    assert [row[1] for row in _rows(text, "outlook")] == ["yes, all along", "yes, all along"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("product=huabei&days_late=121", 400, "days_late"),
        ("product=huabei&days_late=-1", 400, "days_late"),
        ("product=huabei&days_late=ten", 400, "days_late"),
        ("product=huabei&horizon=0", 400, "horizon"),
        ("product=&days_late=3", 400, "product"),
        ("product=jiebei&days_late=3", 404, None),
    ],
)
def test_a_bad_what_if_names_its_field(
    site: Site, query: str, status: int, field: str | None
) -> None:
    site.log_in("ning")
    answer = site.client.get(f"/portal/whatif?{query}")
    assert answer.status_code == status
    if field is not None:
        assert f'data-field="{field}"' in answer.text


def test_the_steps_pay_every_other_bill_on_its_due_date() -> None:
    def line(product: str, *dues: tuple[str, str]) -> dict[str, Any]:
        rows = [_row(due, amount, "0.00", "scheduled", n) for n, (due, amount) in enumerate(dues)]
        return {"product": product, "outstanding": {}, "loans": [{"id": 1, "schedule": rows}]}

    lines = [
        line("fenqile", ("2026-05-20", "10.00"), ("2026-06-20", "10.00"), ("2026-07-20", "10.00")),
        line("weilidai", ("2026-04-30", "5.00"), ("2026-05-30", "5.00"), ("2026-09-30", "5.00")),
    ]
    form = WhatIfForm(product="fenqile", days_late=45, horizon=90)
    steps = [(s["date"], s["repay"]["product"]) for s in hypothetical_steps(lines, TODAY, form)]
    assert steps == [
        ("2026-05-03", "weilidai"),  # already past due: paid today
        ("2026-05-30", "weilidai"),
        ("2026-07-04", "fenqile"),  # 20 May + 45 days, with the June bill that fell due
        ("2026-07-20", "fenqile"),  # the next one on time; September's is past the horizon
    ]


def test_a_statement_converts_to_installments_once(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal/lines/huabei").text
    key = re.search(r'name="key" value="([^"]+-convert)"', text)
    assert key is not None
    form = {"csrf": site.csrf("/portal/lines/huabei"), "key": key.group(1), "months": "3"}

    def plans() -> list[tuple[Any, ...]]:
        with site.engine.connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    sa.select(loans.c.kind, loans.c.principal_fen, loans.c.term_months).where(
                        loans.c.borrower_id == "ning",
                        loans.c.kind != "revolving",
                        loans.c.product == "huabei",
                    )
                )
            ]

    assert plans() == []
    first = site.client.post("/portal/lines/huabei/convert", data=form, follow_redirects=False)
    assert first.headers["location"] == "/portal/lines/huabei?done=converted"
    converted = plans()
    assert [(principal, months) for _, principal, months in converted] == [(600_00, 3)]
    again = site.client.post("/portal/lines/huabei/convert", data=form, follow_redirects=False)
    assert again.headers["location"] == "/portal/lines/huabei?done=replayed"
    assert plans() == converted


def test_a_form_missing_a_field_gets_the_error_page_naming_it(site: Site) -> None:
    answer = site.client.post("/login", data={"login": "ning"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert 'data-field="password"' in answer.text
