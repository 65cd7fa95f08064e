"""Personal early warning: the kernel's measures and levels, one borrower and the whole
book agreeing, the close notifying each worsening once, the API and the portal."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from crossline.eod import runner
from crossline.eod.early_warnings import close_warnings
from crossline.eod.runner import run_eod
from crossline.events.templates import render
from crossline.kernels.early_warning import (
    BORROWER_SCHEMA,
    LINE_SCHEMA,
    PREVIOUS_SCHEMA,
    ROW_SCHEMA,
    Threshold,
    early_warning,
)
from crossline.scenario.runner import execute_step, run_scenario
from crossline.scenario.spec import parse_scenario
from crossline.servicing.early_warning import (
    borrower_scope,
    everyone,
    thresholds,
    warnings,
)
from crossline.store import platform
from crossline.store.schema import early_warnings, notifications
from tests.api_support import bearer
from tests.helpers import run_example
from tests.web_support import Site, session_token

TODAY = date(2026, 3, 15)
RULES = {
    "dti": Threshold(3600, 5000),
    "dues_30d": Threshold(6000, 10000),
    "products": Threshold(3, 5),
    "utilisation": Threshold(7000, 9000),
    "utilisation_rising": Threshold(2000, None),
}


def _frames(
    people: list[tuple[str, int]],
    rows: list[tuple[str, int, int, date, int, int]],
    lines: list[tuple[str, int, int]],
    previous: list[tuple[str, int]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    return {
        row["borrower_id"]: row
        for row in early_warning(
            pl.DataFrame(people, schema=BORROWER_SCHEMA, orient="row"),
            pl.DataFrame(rows, schema=ROW_SCHEMA, orient="row"),
            pl.DataFrame(lines, schema=LINE_SCHEMA, orient="row"),
            pl.DataFrame(list(previous), schema=PREVIOUS_SCHEMA, orient="row"),
            TODAY,
            RULES,
        ).iter_rows(named=True)
    }


def test_the_thresholds_file_holds_the_documented_values() -> None:
    assert thresholds() == RULES


def test_dti_is_the_next_payment_of_each_loan_against_income_at_the_threshold() -> None:
    # Income 10000.00. Loan 1: next payment (after today) 2000.00, then 2000.00 again a
    # month later (not this month's burden); loan 2: 1600.00. 3600.00 / 10000.00 = 36%.
    just_watch = _frames(
        [("a", 1_000_000)],
        [
            ("a", 1, 10, date(2026, 4, 1), 200_000, 190_000),
            ("a", 1, 10, date(2026, 5, 1), 200_000, 195_000),
            ("a", 2, 11, date(2026, 4, 5), 160_000, 150_000),
        ],
        [("a", 10, 5_000_000), ("a", 11, 5_000_000)],
    )["a"]
    assert just_watch["monthly_debt_fen"] == 360_000
    assert just_watch["dti_bp"] == 3600
    assert just_watch["level"] == "watch"
    assert just_watch["signals"] == ["dti"]
    # One fen less is 35.99…% (rounded down to 3599 bp): ok.
    below = _frames(
        [("a", 1_000_000)],
        [("a", 1, 10, date(2026, 4, 1), 359_999, 300_000)],
        [("a", 10, 5_000_000)],
    )["a"]
    assert below["dti_bp"] == 3599
    assert below["level"] == "ok"
    assert below["signals"] == []


def test_dues_in_30_days_count_arrears_and_stop_at_the_horizon() -> None:
    # Today 03-15, horizon 04-14. Overdue 03-01: 4000.00; due 04-14: 3000.00 (inside);
    # due 04-15: 9000.00 (outside). Dues 7000.00 against 7000.00 income = 100%: act.
    # DTI counts only the next payment after today (3000.00): 3000/7000 = 42.85…% → 4285.
    result = _frames(
        [("a", 700_000)],
        [
            ("a", 1, 10, date(2026, 3, 1), 400_000, 380_000),
            ("a", 1, 10, date(2026, 4, 14), 300_000, 280_000),
            ("a", 2, 11, date(2026, 4, 15), 900_000, 900_000),
        ],
        [("a", 10, 10_000_000), ("a", 11, 10_000_000)],
    )["a"]
    assert result["dues_30d_fen"] == 700_000
    assert result["dues_30d_bp"] == 10_000
    assert result["monthly_debt_fen"] == 300_000 + 900_000
    assert result["dti_bp"] == 1_200_000 * 10_000 // 700_000
    assert result["level"] == "act"
    assert result["signals"] == ["dti", "dues_30d"]


def test_products_utilisation_and_its_rise_since_the_previous_month_end() -> None:
    # Three lines owe something (a fourth is paid up): products = 3, watch.
    # Principal outstanding 6000 + 1000 + 500 = 7500.00 of limits 10000.00: 75%, watch;
    # the previous month end was 50%: up 25 points (≥ 20), watch.
    rows = [
        ("a", 1, 10, date(2026, 4, 1), 100_000, 600_000),
        ("a", 2, 11, date(2026, 4, 2), 20_000, 100_000),
        ("a", 3, 12, date(2026, 4, 3), 10_000, 50_000),
        ("a", 4, 13, date(2026, 4, 4), 0, 0),
    ]
    lines = [("a", 10, 400_000), ("a", 11, 300_000), ("a", 12, 200_000), ("a", 13, 100_000)]
    result = _frames([("a", 10_000_000)], rows, lines, [("a", 5000)])["a"]
    assert result["products_with_balance"] == 3
    assert result["utilisation_bp"] == 7500
    assert result["utilisation_change_bp"] == 2500
    assert result["level"] == "watch"
    assert result["signals"] == ["products", "utilisation", "utilisation_rising"]
    # Without a stored month end there is no trend, and 92% of the limits is act.
    maxed = _frames([("a", 10_000_000)], rows, [("a", 10, 815_217)])["a"]
    assert maxed["utilisation_change_bp"] is None
    assert maxed["utilisation_bp"] == 750_000 * 10_000 // 815_217
    assert maxed["level"] == "act"


def test_no_income_with_debt_is_act_and_no_debt_is_ok() -> None:
    result = _frames(
        [("broke", 0), ("idle", 0)],
        [("broke", 1, 10, date(2026, 4, 1), 100, 100)],
        [("broke", 10, 1_000_000), ("idle", 11, 1_000_000)],
    )
    assert result["broke"]["level"] == "act"
    assert result["broke"]["signals"] == ["dti", "dues_30d"]
    assert result["idle"]["level"] == "ok"
    assert result["idle"]["utilisation_bp"] == 0


def _hand_dti_fen() -> int:
    """The three next payments of early_warning_worsens.yaml on 03-25, by hand."""
    weilidai = Decimal("600.00") + Decimal(6000) * Decimal("0.0003") * 31  # 03-02 → 04-02
    r = Decimal("0.0003") * 30
    jiebei = (Decimal(18000) * r / (1 - (1 + r) ** -6)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    fenqile = Decimal(9000) / 6 + Decimal(9000) * Decimal("0.010")  # default tier fee 1.0%
    return int((weilidai + jiebei + fenqile) * 100)


def test_the_example_goes_ok_watch_act_notified_once_per_worsening(engine: sa.Engine) -> None:
    outcome = run_example(engine, "early_warning_worsens")
    assert outcome["ledger"]["balanced"]
    assert [e for e in outcome["events"] if e.get("ok") is False] == []
    levels = {
        name: snap["borrowers"]["alice"]["early_warning"]
        for name, snap in outcome["snapshots"].items()
    }
    assert levels == {
        "one_loan": {"level": "ok", "signals": []},
        "two_loans": {"level": "watch", "signals": ["dti"]},
        "three_products": {"level": "act", "signals": ["dti", "products"]},
    }
    n = notifications.c
    with engine.connect() as conn:
        sent = conn.execute(
            sa.select(n.business_date, n.payload)
            .where(n.kind == "early_warning")
            .order_by(n.notification_id)
        ).all()
        stored = conn.execute(sa.select(early_warnings)).one()
    payloads = [(day, json.loads(text)) for day, text in sent]
    assert [(d, p["previous_level"], p["level"]) for d, p in payloads] == [
        (date(2026, 3, 10), "ok", "watch"),
        (date(2026, 3, 20), "watch", "act"),
    ]
    assert payloads[1][1]["signals"] == ["dti", "products"]
    assert payloads[1][1]["advice_zh"][1].startswith("您同时在多个产品上有欠款")
    # The row of March as the last close (03-25) left it, to the fen, dated by the close
    # that last changed it: the one at which Fenqile's first installment (due 04-20, a
    # month after the purchase) entered the 30-day window of dues.
    monthly = _hand_dti_fen()
    assert monthly == 534_101
    assert stored.as_of == date(2026, 4, 20) - timedelta(days=30)
    assert stored.period_end == date(2026, 3, 31)
    assert stored.dues_30d_fen == monthly  # nothing overdue: the month's dues are the debt
    assert stored.dti_bp == monthly * 10_000 // 1_000_000
    assert stored.products_with_balance == 3
    assert stored.signals == "dti,products"


def test_one_borrower_and_the_whole_book_get_the_same_result(engine: sa.Engine) -> None:
    run_scenario(parse_scenario(_two_borrower_book()), engine)
    with engine.connect() as conn:
        day = platform.business_date(conn)
        book = warnings(conn, everyone, day)
        one_by_one = pl.concat(
            [warnings(conn, borrower_scope([who]), day) for who in book["borrower_id"]]
        )
    assert book.height == 3
    assert book.equals(one_by_one)
    assert set(book["level"]) == {"ok", "watch"}


def _two_borrower_book() -> dict[str, Any]:
    """Three borrowers: one heavily borrowed (watch), one light, one with nothing."""
    return {
        "start": "2026-03-01",
        "end": "2026-03-05",
        "borrowers": [
            {"id": "heavy", "monthly_income": "5000.00"},
            {"id": "light", "monthly_income": "20000.00"},
            {"id": "none", "monthly_income": "8000.00"},
        ],
        "steps": [
            {
                "date": "2026-03-01",
                "open_line": {"borrower": who, "product": "weilidai", "limit": "30000.00"},
            }
            for who in ("heavy", "light")
        ]
        + [
            {
                "date": "2026-03-02",
                "draw": {
                    "borrower": who,
                    "product": "weilidai",
                    "amount": amount,
                    "term_months": 5,
                    "method": "equal_principal",
                },
            }
            for who, amount in (("heavy", "9000.00"), ("light", "3000.00"))
        ],
    }


def test_a_resumed_close_notifies_a_worsening_once(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _two_borrower_book()
    data = book | {"end": "2026-03-01", "steps": book["steps"][:2]}
    run_scenario(parse_scenario(data), engine)  # lines opened, 03-01 closed: all ok
    for step in parse_scenario(_two_borrower_book()).steps[2:]:  # the draws of 03-02
        execute_step(engine, step)

    def crash_after_warnings(
        conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series
    ) -> int:
        sent = close_warnings(conn, day, lo, hi, touched)
        if sent:
            raise RuntimeError("crash after the notification was written")
        return sent

    monkeypatch.setattr(runner, "close_warnings", crash_after_warnings)
    with pytest.raises(RuntimeError):
        run_eod(engine, date(2026, 3, 2))
    monkeypatch.undo()
    run_eod(engine, date(2026, 3, 3))
    with engine.connect() as conn:
        sent = conn.execute(
            sa.select(notifications.c.borrower_id, notifications.c.business_date).where(
                notifications.c.kind == "early_warning"
            )
        ).all()
    assert sent == [("heavy", date(2026, 3, 2))]


def test_the_api_shows_the_borrower_their_own_warning_only(site: Site) -> None:
    client: TestClient = site.client
    ning = bearer(session_token(site.engine, "ning"))
    answer = client.get("/v1/borrowers/ning/early-warning", headers=ning)
    assert answer.status_code == 200
    body = answer.json()
    with site.engine.connect() as conn:
        day = platform.business_date(conn)
        expected = warnings(conn, borrower_scope(["ning"]), day).row(0, named=True)
    assert body["level"] == expected["level"]
    assert body["signals"] == expected["signals"]
    assert body["measures"]["monthly_income"] == "8000.00"
    assert body["measures"]["products_with_balance"] == expected["products_with_balance"]
    bohai = bearer(session_token(site.engine, "bohai"))
    assert client.get("/v1/borrowers/ning/early-warning", headers=bohai).status_code == 404
    olga = bearer(session_token(site.engine, "olga"))
    staff = client.get("/v1/borrowers/ning/early-warning", headers=olga)
    assert staff.status_code == 403
    assert staff.json()["error"]["code"] == "forbidden"


def test_the_portal_home_shows_the_level_and_its_advice(site: Site) -> None:
    with site.engine.begin() as conn:  # make ning's income small: every ratio jumps
        conn.execute(
            sa.text("UPDATE borrowers SET monthly_income_fen = 10000 WHERE borrower_id = 'ning'")
        )
    site.log_in("ning")
    text = site.client.get("/portal").text
    assert 'id="early-warning" data-level="act"' in text
    assert 'data-signal="dti"' in text
    assert "Your monthly repayments take a large share of your income" in text
    assert "每月还款已占收入的较大比例" in text


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_notification_templates_render_with_a_subject_line(language: str) -> None:
    def text(kind: str, payload: dict[str, Any]) -> str:
        return "\n".join(render(kind, language, payload, "weilidai", date(2026, 4, 3)))

    warned = text(
        "early_warning",
        {
            "level": "act",
            "previous_level": "watch",
            "signals": ["dti"],
            "advice_zh": ["少借一点"],
            "advice_en": ["Borrow less"],
        },
    )
    failed = text(
        "autodebit_failed",
        {
            "due_date": "2026-04-01",
            "attempt": 3,
            "amount_due": "1275.12",
            "amount_debited": "0.00",
            "shortfall": "1275.12",
            "attempts_left": 0,
            "next_attempt": None,
        },
    )
    paid = text(
        "autodebit_succeeded",
        {
            "due_date": "2026-04-01",
            "attempt": 1,
            "amount_due": "1.00",
            "amount_debited": "1274.40",
        },
    )
    for text in (warned, failed, paid):
        subject, _, body = text.partition("\n")
        assert subject.strip() and body.strip()
    assert ("少借一点" if language == "zh" else "Borrow less") in warned
    assert "1275.12" in failed and "1274.40" in paid
    assert ("不再重试" if language == "zh" else "will not retry") in failed
