"""Collections (issue 7, DOMAIN §5): the contact rules at their boundaries, records kept
two years, promises kept and broken, and the queue by bucket."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.collections import collections_queue, purge_contacts, retention_cutoff
from crossline.collections.strategies import strategy_for
from crossline.eod.runner import close_day
from crossline.scenario.runner import execute_step
from crossline.scenario.spec import STEP_KINDS, ScenarioError, Step, parse_scenario
from crossline.servicing.errors import RefusedError
from crossline.store import platform
from crossline.store.schema import contacts, credit_lines, notifications, promises
from tests.helpers import dump, journal_rows, run_yaml

BOOK = """
start: 2026-04-01
end: 2026-04-01
borrowers:
  - {id: bob, monthly_income: "9000.00"}
  - {id: amy, monthly_income: "9000.00"}
steps:
  - date: 2026-04-01
    open_line: {borrower: bob, product: weilidai, limit: "30000.00", daily_rate: "0.0004"}
  - date: 2026-04-01
    draw: {borrower: bob, product: weilidai, amount: "6000.00", term_months: 5,
           method: equal_principal}
  - date: 2026-04-01
    open_line: {borrower: amy, product: weilidai, limit: "30000.00", daily_rate: "0.0004"}
"""
TODAY = date(2026, 4, 2)


def _mark_bob_late(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(credit_lines)
            .where(credit_lines.c.borrower_id == "bob")
            .values(dpd=3, bucket="M1")
        )


@pytest.fixture
def book(engine: sa.Engine) -> sa.Engine:
    """Bob's Weilidai line marked 3 days past due (business date 2026-04-02); Amy's current."""
    run_yaml(engine, BOOK)
    _mark_bob_late(engine)
    return engine


def _next_day(engine: sa.Engine) -> None:
    """Close the day; the close ages bob's line from its schedule, so mark it late again."""
    close_day(engine)
    _mark_bob_late(engine)


def _run(engine: sa.Engine, kind: str, **fields: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        today = platform.business_date(conn)
    command = STEP_KINDS[kind].model_validate(fields)
    return execute_step(engine, Step(number=1, date=today, kind=kind, command=command))


def _contact(engine: sa.Engine, **fields: Any) -> dict[str, Any]:
    base = {"borrower": "bob", "product": "weilidai", "channel": "sms", "party": "debtor"}
    return _run(engine, "contact", **(base | fields))


def _refused(engine: sa.Engine, code: str, **fields: Any) -> dict[str, Any]:
    """A contact the rules forbid: refused with ``code`` and nothing written."""
    before = dump(engine)
    event = _contact(engine, **fields)
    assert (event["ok"], event["code"]) == (False, code), event
    assert dump(engine) == before
    return event


def test_no_contact_from_22_00_to_08_00(book: sa.Engine) -> None:
    assert _contact(book, at="21:59")["ok"] is True
    event = _refused(book, "quiet_hours", at="22:00")
    assert "22:00" in event["reason"] and "consent" in event["reason"]
    _refused(book, "quiet_hours", at="23:59")
    _refused(book, "quiet_hours", at="00:00")
    _refused(book, "quiet_hours", at="07:59")
    assert _contact(book, at="08:00")["ok"] is True
    _refused(book, "quiet_hours", at="22:00", channel="call")


def test_consent_allows_night_contact_until_withdrawn(book: sa.Engine) -> None:
    assert _run(book, "consent_contact_hours", borrower="bob")["ok"] is True
    assert _contact(book, at="23:00")["ok"] is True
    assert _contact(book, at="07:59", channel="call")["ok"] is True
    assert _run(book, "consent_contact_hours", borrower="bob", consent=False)["ok"] is True
    _refused(book, "quiet_hours", at="23:00")


def test_at_most_six_unanswered_calls_a_day_to_one_number(book: sa.Engine) -> None:
    call = {"channel": "call", "at": "10:00"}
    for _ in range(5):
        assert _contact(book, **call)["ok"] is True
    # Answered calls do not count: two of them leave room for the sixth unanswered.
    assert _contact(book, **call, answered=True)["ok"] is True
    assert _contact(book, **call, answered=True)["ok"] is True
    assert _contact(book, **call)["ok"] is True  # the 6th unanswered
    event = _refused(book, "unanswered_call_limit", **call)
    assert "6" in event["reason"]
    # The 7th attempt is refused whatever its outcome would be: it is decided before dialling.
    _refused(book, "unanswered_call_limit", **call, answered=True)
    # Another number (the guarantor's on file) and other channels are not limited by it.
    assert _contact(book, **call, party="guarantor")["ok"] is True
    assert _contact(book, at="10:00", channel="sms")["ok"] is True
    _next_day(book)
    assert _contact(book, **call)["ok"] is True  # a new day


def test_calls_to_a_number_are_counted_by_its_keyed_hash(
    book: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = _contact(book, channel="call", at="10:00", number="13800000001")
    assert (event["ok"], event["code"]) == (False, "pii_key_missing")
    monkeypatch.setenv("CROSSLINE_PII_KEY", "A" * 43 + "=")
    first = {"channel": "call", "at": "10:00", "number": "13800000001"}
    for _ in range(6):
        assert _contact(book, **first)["ok"] is True
    _refused(book, "unanswered_call_limit", **first)
    _refused(book, "unanswered_call_limit", **(first | {"number": "138-0000-0001"}))
    assert _contact(book, **(first | {"number": "13800000002"}))["ok"] is True
    with book.connect() as conn:
        keys = set(conn.execute(sa.select(contacts.c.number_key)).scalars())
    assert len(keys) == 2
    assert all(k.startswith("h:") and "13800000001" not in k for k in keys)


def test_third_party_only_to_reach_an_unreachable_debtor(book: sa.Engine) -> None:
    third = {"party": "third_party", "channel": "call", "at": "11:00", "answered": True}
    event = _refused(book, "third_party_debtor_reachable", **third)
    assert "unreachable" in event["reason"]
    for _ in range(2):
        assert _contact(book, channel="call", at="10:00")["ok"] is True
    _refused(book, "third_party_debtor_reachable", **third)  # two attempts are not enough
    assert _contact(book, channel="call", at="10:05")["ok"] is True
    assert _contact(book, **third, message="请转告他回电 95188")["ok"] is True


def test_the_guarantor_may_be_contacted_while_the_debtor_is_reachable(book: sa.Engine) -> None:
    assert _contact(book, party="guarantor", channel="call", at="10:00")["ok"] is True
    _refused(book, "third_party_debtor_reachable", party="third_party", channel="sms", at="10:00")


def test_an_answered_debtor_contact_makes_the_debtor_reachable(book: sa.Engine) -> None:
    for _ in range(3):
        assert _contact(book, channel="call", at="10:00")["ok"] is True
    assert _contact(book, channel="sms", at="10:10", answered=True)["ok"] is True
    _refused(book, "third_party_debtor_reachable", party="third_party", channel="call", at="11:00")


def test_unreachable_looks_back_seven_days(book: sa.Engine) -> None:
    for _ in range(3):
        assert _contact(book, channel="call", at="10:00")["ok"] is True
    for _ in range(6):
        _next_day(book)  # 04-08: the calls of 04-02 are within the last seven days
    assert _contact(book, party="third_party", channel="call", at="11:00")["ok"] is True
    _next_day(book)  # 04-09: they are not
    _refused(book, "third_party_debtor_reachable", party="third_party", channel="call", at="11:00")


@pytest.mark.parametrize(
    "message",
    ["他欠我们的钱", "please ask him about his overdue loan", "need 1274.40 by Friday", "¥500"],
)
def test_a_third_party_is_never_told_the_debt(book: sa.Engine, message: str) -> None:
    for _ in range(3):
        assert _contact(book, channel="call", at="10:00")["ok"] is True
    _refused(
        book,
        "third_party_disclosure",
        party="third_party",
        channel="call",
        at="11:00",
        message=message,
    )


def test_only_debtor_guarantor_or_third_party_are_parties() -> None:
    data = {
        "start": "2026-04-01",
        "end": "2026-04-01",
        "borrowers": [{"id": "bob", "monthly_income": "9000.00"}],
        "steps": [
            {
                "date": "2026-04-01",
                "contact": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "at": "10:00",
                    "channel": "call",
                    "party": "employer",
                },
            }
        ],
    }
    with pytest.raises(ScenarioError, match=r"step 1: contact\.party:"):
        parse_scenario(data)
    data["steps"][0]["contact"] |= {"party": "debtor", "at": "24:00"}  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"step 1: contact\.at:"):
        parse_scenario(data)


def test_no_collection_fees(book: sa.Engine) -> None:
    journal = journal_rows(book)
    event = _refused(book, "collection_fee_forbidden", at="10:00", fee="50.00")
    assert "fee" in event["reason"]
    assert journal_rows(book) == journal
    assert _contact(book, at="10:00", channel="call")["ok"] is True
    assert journal_rows(book) == journal  # a contact posts nothing


def test_a_line_not_past_due_is_not_collected(book: sa.Engine) -> None:
    _refused(book, "not_collectible", borrower="amy", at="10:00")
    _refused(book, "no_line", product="jiebei", at="10:00")


def test_contact_records_are_append_only(book: sa.Engine) -> None:
    assert _contact(book, at="10:00")["ok"] is True
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), book.begin() as conn:
        conn.execute(sa.update(contacts).values(answered=True))
    with pytest.raises(sa.exc.DBAPIError, match="kept 2 years"), book.begin() as conn:
        conn.execute(sa.delete(contacts))


def _old_contact(conn: sa.Connection, day: date) -> None:
    conn.execute(
        sa.insert(contacts).values(
            borrower_id="bob",
            shard=platform.shard_of("bob"),
            credit_line_id=1,
            product="weilidai",
            business_date=day,
            local_time="10:00",
            channel="call",
            party="debtor",
            answered=False,
            operator="x",
        )
    )


def test_purge_deletes_only_records_older_than_two_years(book: sa.Engine) -> None:
    assert retention_cutoff(TODAY) == date(2024, 4, 2)
    assert retention_cutoff(date(2028, 2, 29)) == date(2026, 2, 28)
    with book.begin() as conn:
        for day in (date(2024, 3, 31), date(2024, 4, 1), date(2024, 4, 2), date(2025, 1, 1)):
            _old_contact(conn, day)
    before = dump(book)
    with pytest.raises(RefusedError) as refused, book.begin() as conn:
        purge_contacts(conn, date(2024, 4, 3))
    assert refused.value.code == "contact_retention"
    assert dump(book) == before
    with book.begin() as conn:
        assert purge_contacts(conn, date(2024, 4, 2)) == 2
    with book.connect() as conn:
        left = sorted(conn.execute(sa.select(contacts.c.business_date)).scalars())
    assert left == [date(2024, 4, 2), date(2025, 1, 1)]
    # The database refuses a younger delete by any path, not only the purge's check.
    with pytest.raises(sa.exc.DBAPIError, match="kept 2 years"), book.begin() as conn:
        conn.execute(sa.delete(contacts).where(contacts.c.business_date == date(2024, 4, 2)))


PROMISED = """
start: 2026-03-01
end: {end}
catalog: default
borrowers:
  - {{id: bob, monthly_income: "9000.00"}}
  - {{id: dan, monthly_income: "9000.00"}}
steps:
  - date: 2026-03-01
    open_line: {{borrower: bob, product: weilidai, limit: "30000.00", daily_rate: "0.0004"}}
  - date: 2026-03-01
    draw: {{borrower: bob, product: weilidai, amount: "6000.00", term_months: 5,
           method: equal_principal}}
  - date: 2026-03-01
    open_line: {{borrower: dan, product: jiebei, limit: "30000.00"}}
  - date: 2026-03-01
    draw: {{borrower: dan, product: jiebei, amount: "3000.00", term_months: 3,
           method: equal_principal}}
  - date: 2026-04-03
    promise_to_pay: {{borrower: bob, product: weilidai, amount: "1000.00", by: 2026-04-06}}
  - date: 2026-04-03
    contact: {{borrower: bob, product: weilidai, at: "10:30", channel: call, party: debtor,
              answered: true}}
  - date: 2026-04-03
    promise_to_pay: {{borrower: bob, product: weilidai, amount: "1000.00", by: 2026-04-06}}
  - date: 2026-04-03
    promise_to_pay: {{borrower: bob, product: weilidai, amount: "500.00", by: 2026-04-06}}
{more}
"""


def _promise_book(engine: sa.Engine, end: str, more: str = "") -> dict[str, Any]:
    return run_yaml(engine, PROMISED.format(end=end, more=more))


def _notices(engine: sa.Engine, kind: str) -> list[dict[str, Any]]:
    n = notifications.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(n.business_date, n.payload).where(n.kind == kind).order_by(n.notification_id)
        ).all()
    return [{"date": r.business_date.isoformat()} | json.loads(r.payload) for r in rows]


def test_a_promise_short_by_its_date_is_broken(engine: sa.Engine) -> None:
    repay = (
        "  - date: 2026-04-05\n"
        '    repay: {borrower: bob, product: weilidai, amount: "600.00"}\n'
        "  - date: 2026-04-07\n"
        '    repay: {borrower: bob, product: weilidai, amount: "400.00"}\n'
    )
    outcome = _promise_book(engine, "2026-04-07", repay)
    steps = {e["step"]: e for e in outcome["events"] if "step" in e}
    assert steps[5]["code"] == "promise_needs_contact"
    assert steps[7]["ok"] is True and steps[7]["amount"] == "1000.00"
    assert steps[8]["code"] == "promise_open"
    assert _notices(engine, "promise_recorded") == [
        {"date": "2026-04-03", "amount": "1000.00", "due_date": "2026-04-06"}
    ]
    # 600.00 by 04-06 is short of 1000.00; the 400.00 of 04-07 comes too late.
    assert _notices(engine, "promise_broken") == [
        {"date": "2026-04-06", "amount": "1000.00", "due_date": "2026-04-06", "paid": "600.00"}
    ]
    bob = outcome["final"]["borrowers"]["bob"]["collections"]
    assert bob["promises"] == [
        {"product": "weilidai", "amount": "1000.00", "by": "2026-04-06", "status": "broken"}
    ]
    assert bob["contacts"] == ["2026-04-03 10:30 weilidai call debtor answered"]


def test_a_promise_paid_in_full_by_its_date_is_kept(engine: sa.Engine) -> None:
    repay = (
        "  - date: 2026-04-04\n"
        '    repay: {borrower: bob, product: weilidai, amount: "300.00"}\n'
        "  - date: 2026-04-06\n"
        '    repay: {borrower: bob, product: weilidai, amount: "700.00"}\n'
    )
    _promise_book(engine, "2026-04-08", repay)
    with engine.connect() as conn:
        row = conn.execute(sa.select(promises.c.status, promises.c.resolved_on)).one()
    assert (row.status, row.resolved_on) == ("kept", date(2026, 4, 6))
    assert _notices(engine, "promise_broken") == []


def test_queue_by_bucket_with_strategy_overdue_contact_and_promise(engine: sa.Engine) -> None:
    _promise_book(engine, "2026-04-03")
    with engine.connect() as conn:
        today = platform.business_date(conn)
        everyone = collections_queue(conn, today)
        webank = collections_queue(conn, today, {"webank"})
        ant = collections_queue(conn, today, {"ant"})
    assert today == date(2026, 4, 4)
    bob = {
        "borrower": "bob",
        "product": "weilidai",
        "lender_group": "webank",
        "dpd": 2,  # as of the close of 04-03: 04-02 and 04-03 past the 04-01 due date
        "bucket": "M1",
        "strategy": "reminder",
        "channels": ["sms", "app"],
        # Installment 1 due 04-01: principal 1200.00, interest 6000 × 0.0004 × 31 = 74.40,
        # penalty 1200 × 0.0004 × 1.5 = 0.72 at the closes of 04-02 and 04-03.
        "overdue": "1275.84",
        "last_contact": {
            "at": "2026-04-03 10:30",
            "channel": "call",
            "party": "debtor",
            "answered": True,
            "outcome": None,
        },
        "promise": {"amount": "1000.00", "by": "2026-04-06", "paid": "0.00"},
    }
    assert webank == [bob]
    assert ant == []  # ant's staff do not see webank's line
    # Dan's Jiebei line is current: it is in no queue.
    assert [(e["borrower"], e["product"]) for e in everyone] == [("bob", "weilidai")]


@pytest.mark.parametrize(
    ("bucket", "strategy", "channels"),
    [
        ("M1", "reminder", ("sms", "app")),
        ("M2", "call", ("call",)),
        ("M3", "call_and_letter", ("call", "letter")),
        ("M7+", "call_and_letter", ("call", "letter")),
    ],
)
def test_strategy_by_bucket(bucket: str, strategy: str, channels: tuple[str, ...]) -> None:
    found = strategy_for(bucket)
    assert found is not None and (found.name, found.channels) == (strategy, channels)
    assert strategy_for("M0") is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossline", "collections", *args],
        capture_output=True,
        text=True,
    )


def test_cli_queue_and_purge(book: sa.Engine, database_url: str) -> None:
    shown = _cli("queue", "--group", "webank", "--database", database_url)
    assert shown.returncode == 0, shown.stderr
    queue = json.loads(shown.stdout)["queue"]
    assert [(e["borrower"], e["dpd"], e["strategy"]) for e in queue] == [("bob", 3, "reminder")]
    with book.begin() as conn:
        _old_contact(conn, date(2024, 4, 1))
        _old_contact(conn, date(2024, 4, 2))
    before = dump(book)
    refused = _cli("purge", "--before", "2024-04-03", "--database", database_url)
    assert refused.returncode == 2
    assert "contact_retention" in refused.stderr
    assert dump(book) == before
    done = _cli("purge", "--before", "2024-04-02", "--database", database_url)
    assert done.returncode == 0, done.stderr
    assert "purged 1 contact records" in done.stdout
    with book.connect() as conn:
        assert list(conn.execute(sa.select(contacts.c.business_date)).scalars()) == [
            date(2024, 4, 2)
        ]
