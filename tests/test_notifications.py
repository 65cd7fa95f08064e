"""Notifications (issue 7): templates in both languages, the borrower's language, due
reminders and the overdue notice at end-of-day, dispute answers, delivery through the
log and real SMTP, the API's rendered list and the portal's page."""

from __future__ import annotations

import email
import json
import logging
import os
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from pydantic import ValidationError
from typer.testing import CliRunner

from crossline.cli import app as cli
from crossline.commands import run_command
from crossline.eod import runner
from crossline.eod.reminders import send_due_reminders
from crossline.eod.runner import close_day, run_eod
from crossline.events.delivery import (
    LogChannel,
    SmtpChannel,
    SmtpSettings,
    configured_channels,
    deliver_pending,
)
from crossline.events.notifications import Notice, notify
from crossline.events.preferences import read_emails, save_email, set_language
from crossline.events.rendered import Rendered
from crossline.events.templates import LANGUAGES, NOTIFICATION_KINDS, render
from crossline.scenario.spec import SetLanguage
from crossline.security.identities import save_identity
from crossline.security.pii import PiiCipher, generate_key
from crossline.servicing.context import open_context
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.lines import open_line, register_borrower
from crossline.servicing.origination import draw
from crossline.store.schema import notification_deliveries, notification_settings, notifications
from tests.conftest import initialise
from tests.helpers import dump, run_example
from tests.test_api import Api, api, open_lines, settled_dump  # noqa: F401  (the fixture)
from tests.web_support import Site

TEMPLATES = Path(__file__).resolve().parent.parent / "src" / "crossline" / "events" / "templates"

FIVE_REASONS = [{"code": f"r{n}", "text": f"reason number {n}"} for n in range(1, 6)]

EXTENSION_OFFER: dict[str, Any] = {
    "extension_id": 1,
    "loan_id": 1,
    "months": 3,
    "outstanding": "4035.72",
    "fee": "40.36",
    "apr": "0.1393",
    "apr_percent": "13.93%",
    "old_maturity": "2026-09-01",
    "new_maturity": "2026-12-01",
    "next_due_date": "2026-06-01",
    "next_amount": "639.04",
    "expires_on": "2026-05-22",
}
PLAN_OFFER: dict[str, Any] = {
    "plan_id": 1,
    "status": "offered",
    "months": 12,
    "principal": "6000.00",
    "interest": "132.00",
    "fee": "0.00",
    "penalty": "41.76",
    "penalty_waived": "0.00",
    "total": "6173.76",
    "installment": "514.48",
    "last_installment": "514.48",
    "first_due_date": "2026-06-16",
    "apr": "0.00%",
    "delinquent_since": "2026-04-01",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "application_decision": {
        "application_id": 7,
        "status": "declined",
        "reasons": FIVE_REASONS,
        "documents": [],
        "limit": None,
        "apr": None,
    },
    "limit_changed": {
        "action": "reduce",
        "old_status": "active",
        "status": "active",
        "old_limit_fen": 3000000,
        "limit_fen": 1000000,
        "reason": "utilisation_high",
        "reason_text": "Your balances are high against your limits.",
        "decision_id": 9,
    },
    "pre_report_notice": {"dpd": 31, "reported_from": "2026-05-31"},
    "due_reminder": {"due_date": "2026-04-01", "amount": "1274.40", "days_before": 3},
    "overdue_notice": {"dpd": 1, "overdue_since": "2026-04-02", "amount": "1275.12"},
    "dispute_answered": {"month": "2026-05", "outcome": "confirmed", "late": True, "dispute_id": 1},
    "extension_offered": EXTENSION_OFFER,
    "extension_approved": {k: v for k, v in EXTENSION_OFFER.items() if k != "expires_on"},
    "waiver_granted": {"component": "penalty", "amount": "5.76", "reason": "hospital stay"},
    "settled": {"amount": "6024.00", "recovered": "0.00", "refunded": "30.00"},
    "recovery_received": {"amount": "500.00", "remaining": "2907.25"},
    "promise_recorded": {"amount": "1000.00", "due_date": "2026-04-06"},
    "promise_broken": {"amount": "1000.00", "due_date": "2026-04-06", "paid": "600.00"},
    "early_warning": {
        "level": "act",
        "previous_level": "ok",
        "signals": ["dti"],
        "advice_zh": ["每月还款已占收入的较大比例，请暂缓新的借款。"],
        "advice_en": ["Your monthly repayments take a large share of your income."],
    },
    "autodebit_succeeded": {
        "due_date": "2026-05-01",
        "attempt": 1,
        "amount_due": "2552.88",
        "amount_debited": "2552.88",
    },
    "plan_offered": PLAN_OFFER,
    "plan_started": PLAN_OFFER | {"status": "active", "loan_id": 2},
    "plan_broken": {
        "plan_id": 1,
        "months": 12,
        "dpd": 137,
        "overdue": "5659.28",
        "delinquent_since": "2026-04-01",
    },
    "plan_completed": {"plan_id": 1, "months": 12},
    "autodebit_failed": {
        "due_date": "2026-04-01",
        "attempt": 1,
        "amount_due": "1274.40",
        "amount_debited": "0.00",
        "shortfall": "1274.40",
        "attempts_left": 2,
        "next_attempt": "2026-04-02",
    },
}
"""A payload of each kind as the code writes it (another slice adds its kinds here)."""


ABOUT_THE_BORROWER = frozenset({"early_warning"})
"""Kinds about the borrower's whole book rather than one product: they name none."""


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_kind_has_a_template_in_each_language_and_renders_its_sample() -> None:
    assert set(SAMPLES) == set(NOTIFICATION_KINDS)
    for lang in LANGUAGES:
        on_disk = {p.stem for p in (TEMPLATES / lang).glob("*.txt")}
        assert on_disk == set(NOTIFICATION_KINDS), lang
    for kind in NOTIFICATION_KINDS:
        zh = render(kind, "zh", SAMPLES[kind], "weilidai", date(2026, 4, 2))
        en = render(kind, "en", SAMPLES[kind], "weilidai", date(2026, 4, 2))
        for subject, body in (zh, en):
            assert subject and body and "\n" not in subject, kind
        assert _has_chinese(zh[0]) and _has_chinese(zh[1]), kind
        assert not _has_chinese(en[0] + en[1]), kind
        if kind not in ABOUT_THE_BORROWER:
            assert "微粒贷" in zh[0] + zh[1] and "Weilidai" in en[0] + en[1], kind


def test_a_payload_missing_a_field_the_words_need_is_an_error_not_a_blank() -> None:
    with pytest.raises(jinja2.UndefinedError, match="amount"):
        render(
            "due_reminder",
            "zh",
            {"due_date": "2026-04-01", "days_before": 3},
            "huabei",
            date.today(),
        )


def test_a_decision_notice_states_at_most_four_reasons_in_order() -> None:
    _, body = render(
        "application_decision", "en", SAMPLES["application_decision"], "huabei", date(2026, 3, 2)
    )
    assert "1. reason number 1\n2. reason number 2\n3. reason number 3\n4. reason number 4" in body
    assert "reason number 5" not in body
    _, zh = render(
        "application_decision", "zh", SAMPLES["application_decision"], "huabei", date(2026, 3, 2)
    )
    assert "主要原因" in zh and "4. reason number 4" in zh and "reason number 5" not in zh
    approved = SAMPLES["application_decision"] | {
        "status": "approved",
        "reasons": [],
        "limit": "5000.00",
        "apr": "0.1825",
    }
    subject, body = render("application_decision", "en", approved, "huabei", date(2026, 3, 2))
    assert subject == "Your Huabei application is approved"
    assert "CNY 5000.00" in body and "18.25%" in body and "reason" not in body


def test_amounts_and_dates_reach_the_words_unchanged() -> None:
    subject, body = render(
        "due_reminder", "zh", SAMPLES["due_reminder"], "weilidai", date(2026, 3, 29)
    )
    assert subject == "还款提醒：您的微粒贷将于 3 天后到期"
    assert "1274.40 元" in body and "2026-04-01" in body
    today = SAMPLES["due_reminder"] | {"days_before": 0}
    assert render("due_reminder", "en", today, "weilidai", date(2026, 4, 1))[0] == (
        "Payment reminder: your Weilidai is due today"
    )
    _, limit = render("limit_changed", "en", SAMPLES["limit_changed"], "huabei", date(2026, 4, 3))
    assert "CNY 10000.00 (it was CNY 30000.00)" in limit
    assert "Your balances are high against your limits." in limit


# --- the example scenario: reminders, then the overdue notice -------------------------


def _payloads(engine: sa.Engine, borrower: str, kind: str) -> list[tuple[date, str]]:
    n = notifications.c
    with engine.connect() as conn:
        return [
            (row.business_date, row.payload)
            for row in conn.execute(
                sa.select(n.business_date, n.payload)
                .where(n.borrower_id == borrower, n.kind == kind)
                .order_by(n.business_date)
            )
        ]


def test_reminders_at_t_minus_3_and_t_come_before_the_overdue_notice(engine: sa.Engine) -> None:
    outcome = run_example(engine, "due_reminders_and_overdue_notice")
    assert outcome["ledger"]["balanced"]
    told = outcome["final"]["borrowers"]["bob"]["notifications"]
    dues = [(n["date"], n["kind"]) for n in told if n["kind"] in ("due_reminder", "overdue_notice")]
    assert dues == [
        ("2026-03-29", "due_reminder"),
        ("2026-04-01", "due_reminder"),
        ("2026-04-02", "overdue_notice"),
    ]
    assert all(n["product"] == "weilidai" for n in told)
    # 1200.00 principal + 6000.00 x 0.0004 x 31 days = 74.40 interest.
    assert _payloads(engine, "bob", "due_reminder") == [
        (date(2026, 3, 29), '{"due_date":"2026-04-01","amount":"1274.40","days_before":3}'),
        (date(2026, 4, 1), '{"due_date":"2026-04-01","amount":"1274.40","days_before":0}'),
    ]
    # Late from 04-02; the close of 04-02 adds a day's penalty 1200 x 0.0004 x 1.5 = 0.72.
    assert _payloads(engine, "bob", "overdue_notice") == [
        (date(2026, 4, 2), '{"dpd":1,"overdue_since":"2026-04-02","amount":"1275.12"}'),
    ]


def test_a_bill_paid_before_its_due_date_gets_no_reminder_on_the_day(engine: sa.Engine) -> None:
    outcome = run_example(engine, "due_reminders_and_overdue_notice")
    assert outcome["final"]["borrowers"]["lin"]["notifications"] == [
        {"date": "2026-04-07", "kind": "due_reminder", "product": "huabei"}
    ]
    # The statement of 04-01: 1200.00 + 300.00 bought in March, due 04-10.
    assert _payloads(engine, "lin", "due_reminder") == [
        (date(2026, 4, 7), '{"due_date":"2026-04-10","amount":"1500.00","days_before":3}')
    ]


# --- exactly once ---------------------------------------------------------------------

START = date(2026, 3, 1)


def _loan_book(engine: sa.Engine, partitions: int = 2) -> None:
    initialise(engine, START, partitions=partitions)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for who in ("p1", "p2", "p3"):
            register_borrower(ctx, who, 800000)
            open_line(ctx, who, "weilidai", 3000000)
            draw(ctx, who, "weilidai", 300000, 5, "equal_principal")


def _reminder_count(engine: sa.Engine) -> list[tuple[Any, ...]]:
    n = notifications.c
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.select(n.credit_line_id, n.business_date, sa.func.count())
                .where(n.kind == "due_reminder")
                .group_by(n.credit_line_id, n.business_date)
                .order_by(n.credit_line_id, n.business_date)
            )
        ]


def test_a_close_resumed_after_a_crash_reminds_each_line_once(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _loan_book(engine)
    run_eod(engine, date(2026, 3, 27))  # the next close (03-28) sends the T-3 reminders
    real = runner.close_scores
    calls = {"n": 0}

    def crash_in_the_second_partition(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed mid-close")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "close_scores", crash_in_the_second_partition)
    with pytest.raises(RuntimeError, match="killed"):
        close_day(engine)
    monkeypatch.setattr(runner, "close_scores", real)
    assert close_day(engine) == date(2026, 3, 28)
    run_eod(engine, date(2026, 3, 31))
    counts = _reminder_count(engine)
    # Three lines, each reminded on 03-29 (T-3) and 04-01 (T), once each.
    assert [(d, c) for _, d, c in counts] == [(date(2026, 3, 29), 1), (date(2026, 4, 1), 1)] * 3
    # A repeated partition (here: the reminder step run again for the day) adds nothing.
    with engine.begin() as conn:
        assert send_due_reminders(conn, date(2026, 3, 31), 0, 1024) == 0
    assert _reminder_count(engine) == counts


# --- the language ---------------------------------------------------------------------


def _one_borrower(engine: sa.Engine) -> None:
    initialise(engine, START)
    with engine.begin() as conn:
        register_borrower(open_context(conn), "mei", 600000)


def test_set_language_through_the_command_path(engine: sa.Engine) -> None:
    _one_borrower(engine)
    with engine.begin() as conn:
        answer, _ = run_command(open_context(conn), SetLanguage(borrower="mei", language="en"))
    assert answer == {"borrower": "mei", "language": "en"}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(notification_settings.c.language)).scalars().all()
    assert stored == ["en"]


def test_a_bad_language_or_borrower_is_refused_naming_it_and_writes_nothing(
    engine: sa.Engine,
) -> None:
    _one_borrower(engine)
    with pytest.raises(ValidationError, match="language"):
        SetLanguage.model_validate({"borrower": "mei", "language": "fr"})
    before = dump(engine)
    with (
        pytest.raises(InputError, match="language: expected one of zh, en"),
        engine.begin() as conn,
    ):
        set_language(open_context(conn), "mei", "fr")
    with (
        pytest.raises(RefusedError, match="'nobody' is not registered"),
        engine.begin() as conn,
    ):
        set_language(open_context(conn), "nobody", "en")
    assert dump(engine) == before


# --- delivery -------------------------------------------------------------------------


class _Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


NATIONAL_ID = "11010519491231002X"
PHONE = "13800138000"


def _mail_book(engine: sa.Engine, cipher: PiiCipher) -> list[int]:
    """Mei (English, with an address and an identity) and Jun (Chinese, no address), one
    due reminder each; their notification ids."""
    initialise(engine, START)
    with engine.begin() as conn:
        ctx = open_context(conn)
        for who in ("mei", "jun"):
            register_borrower(ctx, who, 600000)
        save_identity(conn, cipher, "mei", name="Wang Mei", national_id=NATIONAL_ID, phone=PHONE)
        save_email(conn, cipher, "mei", "mei@example.com")
        set_language(ctx, "mei", "en")
        payload = SAMPLES["due_reminder"]
        notices = [
            Notice(who, ctx.shard(who), date(2026, 3, 29), "due_reminder", payload, "weilidai")
            for who in ("mei", "jun")
        ]
        notify(conn, notices)
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(notifications.c.notification_id).order_by(notifications.c.borrower_id)
            ).scalars()
        )


def test_smtp_delivers_to_a_real_server_in_the_borrower_s_language_once(
    engine: sa.Engine,
    smtp_server: tuple[_Inbox, int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp_server
    cipher = PiiCipher(os.urandom(32))
    jun_id, mei_id = _mail_book(engine, cipher)
    settings = SmtpSettings(host="127.0.0.1", port=port, sender="notices@crossline.example")
    channels = [LogChannel(), SmtpChannel(settings)]
    with caplog.at_level(logging.INFO, logger="crossline.notifications"):
        assert deliver_pending(engine, channels, cipher) == {"log": 2, "smtp": 1}
    assert inbox.recipients == [["mei@example.com"]]
    (message,) = inbox.messages
    assert message["Subject"] == "Payment reminder: your Weilidai is due in 3 days"
    assert message["X-Crossline-Notification"] == str(mei_id)
    assert message["From"] == "notices@crossline.example"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "CNY 1274.40 of your Weilidai is due on 2026-04-01" in body.decode()
    logged = caplog.text
    assert f"notification {jun_id} to borrower jun" in logged
    assert "还款提醒：您的微粒贷将于 3 天后到期" in logged  # Jun reads Chinese
    for secret in (NATIONAL_ID, PHONE, "mei@example.com", "Wang Mei"):
        assert secret not in logged
    d = notification_deliveries.c
    with engine.connect() as conn:
        done = conn.execute(
            sa.select(d.notification_id, d.channel, d.sent).order_by(d.channel, d.notification_id)
        ).all()
    assert [tuple(r) for r in done] == [
        (jun_id, "log", True),
        (mei_id, "log", True),
        (jun_id, "smtp", False),  # no address: done, nothing sent
        (mei_id, "smtp", True),
    ]
    # A second run finds nothing left: idempotent by notification id.
    assert deliver_pending(engine, channels, cipher) == {"log": 0, "smtp": 0}
    assert len(inbox.messages) == 1


class _Flaky:
    """A channel that fails on its second notification (a dropped connection)."""

    name = "flaky"
    needs_email = False

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.fail_on = 2

    def deliver(self, notice: Rendered) -> bool:
        self.seen.append(notice.notification_id)
        if len(self.seen) == self.fail_on:
            raise ConnectionError("dropped")
        return True


def test_a_failed_run_records_nothing_and_the_next_sends_everything(engine: sa.Engine) -> None:
    cipher = PiiCipher(os.urandom(32))
    ids = sorted(_mail_book(engine, cipher))
    flaky = _Flaky()
    with pytest.raises(ConnectionError):
        deliver_pending(engine, [flaky])
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(notification_deliveries)
            ).scalar_one()
            == 0
        )
    flaky.fail_on = 0
    assert deliver_pending(engine, [flaky]) == {"flaky": 2}
    # At least once: the first, sent before the failure, went again; each id at most twice.
    assert flaky.seen == [ids[0], ids[1], ids[0], ids[1]]


def test_mail_needs_the_pii_key_and_smtp_settings_name_what_is_missing() -> None:
    assert [c.name for c in configured_channels({})] == ["log"]
    with pytest.raises(ValueError, match="CROSSLINE_SMTP_FROM"):
        configured_channels({"CROSSLINE_SMTP_HOST": "mail.example"})
    with pytest.raises(ValueError, match="CROSSLINE_SMTP_PORT"):
        SmtpSettings.from_env(
            {"CROSSLINE_SMTP_HOST": "h", "CROSSLINE_SMTP_FROM": "a@b.c", "CROSSLINE_SMTP_PORT": "x"}
        )
    smtp = configured_channels({"CROSSLINE_SMTP_HOST": "h", "CROSSLINE_SMTP_FROM": "a@b.c"})
    assert [c.name for c in smtp] == ["log", "smtp"]
    with pytest.raises(ValueError, match="PII key"):
        deliver_pending(sa.create_engine("sqlite://"), smtp)


def test_the_address_is_sealed_and_a_bad_one_is_refused_naming_email(engine: sa.Engine) -> None:
    cipher = PiiCipher(os.urandom(32))
    _mail_book(engine, cipher)
    with engine.connect() as conn:
        sealed = conn.execute(sa.select(notification_settings.c.email_enc)).scalars().all()
        assert all(b"example.com" not in bytes(s) for s in sealed if s is not None)
        assert read_emails(conn, cipher, ["mei", "jun"]) == {"mei": "mei@example.com"}
    before = dump(engine)
    with pytest.raises(InputError, match="email: expected an address"), engine.begin() as conn:
        save_email(conn, cipher, "jun", "not an address")
    assert dump(engine) == before


def test_the_cli_delivers_by_mail_with_the_pii_key_and_then_has_nothing_left(
    engine: sa.Engine, database_url: str, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp_server
    key = generate_key()
    _mail_book(engine, PiiCipher.from_env({"CROSSLINE_PII_KEY": key}))
    command = ["notifications", "deliver", "--database", database_url]
    smtp = {"CROSSLINE_SMTP_HOST": "127.0.0.1", "CROSSLINE_SMTP_PORT": str(port)}
    smtp |= {"CROSSLINE_SMTP_FROM": "notices@crossline.example"}
    no_key = CliRunner().invoke(cli, command, env=smtp | {"CROSSLINE_PII_KEY": ""})
    assert no_key.exit_code == 2 and "CROSSLINE_PII_KEY" in no_key.output
    done = CliRunner().invoke(cli, command, env=smtp | {"CROSSLINE_PII_KEY": key})
    assert done.exit_code == 0, done.output
    assert "log: sent 2" in done.output and "smtp: sent 1" in done.output
    assert inbox.recipients == [["mei@example.com"]]
    again = CliRunner().invoke(cli, command, env=smtp | {"CROSSLINE_PII_KEY": key})
    assert "log: sent 0" in again.output and "smtp: sent 0" in again.output
    assert len(inbox.messages) == 1


# --- dispute answers ------------------------------------------------------------------


def test_the_borrower_is_told_how_their_dispute_was_answered(engine: sa.Engine) -> None:
    outcome = run_example(engine, "dispute_answered_late")
    told = [
        n
        for n in outcome["final"]["borrowers"]["bo"]["notifications"]
        if n["kind"] == "dispute_answered"
    ]
    assert told == [{"date": "2026-06-26", "kind": "dispute_answered", "product": "weilidai"}]
    ((day, payload),) = _payloads(engine, "bo", "dispute_answered")
    subject, body = render("dispute_answered", "zh", json.loads(payload), "weilidai", day)
    assert subject == "您对微粒贷 2026-05 征信记录的异议已有处理结果"
    assert "经核实记录无误" in body and "20 日内" in body  # confirmed, and late


# --- API and portal -------------------------------------------------------------------


def test_the_api_renders_notifications_in_the_borrower_s_language(api: Api) -> None:  # noqa: F811
    open_lines(api)
    zh = api.get("/borrowers/alice/notifications", api.alice).json()
    decisions = [n for n in zh if n["kind"] == "application_decision"]
    assert {n["subject"] for n in decisions} == {"您的花呗申请已获批准", "您的微粒贷申请已获批准"}
    assert all(n["language"] == "zh" for n in zh)
    answer = api.post("/notification-language", api.alice, {"borrower": "alice", "language": "en"})
    assert answer.status_code == 200, answer.text
    en = api.get("/borrowers/alice/notifications", api.alice).json()
    assert {n["subject"] for n in en if n["kind"] == "application_decision"} == {
        "Your Huabei application is approved",
        "Your Weilidai application is approved",
    }


def test_the_api_refuses_another_borrower_s_language_and_a_bad_one(api: Api) -> None:  # noqa: F811
    before = settled_dump(api)
    other = api.post("/notification-language", api.bob, {"borrower": "alice", "language": "en"})
    assert other.status_code == 404
    bad = api.post("/notification-language", api.alice, {"borrower": "alice", "language": "fr"})
    assert bad.status_code in (400, 422) and "language" in bad.text
    bad_mail = api.client.put(
        "/v1/borrowers/alice/email", json={"email": "nope"}, headers=api.alice
    )
    assert bad_mail.status_code == 400 and bad_mail.json()["error"]["field"] == "email"
    assert settled_dump(api) == before


def test_the_api_stores_the_address_sealed_and_audits_only_that_it_was_set(api: Api) -> None:  # noqa: F811
    answer = api.client.put(
        "/v1/borrowers/alice/email", json={"email": "alice@example.com"}, headers=api.alice
    )
    assert answer.status_code == 200, answer.text
    cipher = api.client.app.state.cipher  # type: ignore[attr-defined]
    with api.engine.connect() as conn:
        assert read_emails(conn, cipher, ["alice"]) == {"alice": "alice@example.com"}
        audit = conn.execute(sa.text("select detail from audit_log")).scalars().all()
    assert all("alice@example.com" not in entry for entry in audit)


def test_the_portal_lists_notifications_and_changes_the_language(site: Site) -> None:
    site.log_in("ning")
    text = site.client.get("/portal/notifications").text
    assert "您的花呗申请已获批准" in text
    csrf = site.csrf("/portal/notifications")
    answer = site.client.post(
        "/portal/notifications/language",
        data={"csrf": csrf, "language": "en"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    text = site.client.get(answer.headers["location"]).text
    assert "Your Huabei application is approved" in text
    assert "您的花呗申请已获批准" not in text
    assert '<option value="en" selected>' in text
