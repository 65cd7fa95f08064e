"""Auto-debit: paid at the close of the due date, retried twice, each attempt recorded
and notified once, bad input refused with nothing written."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from crossline.eod import runner
from crossline.eod.runner import run_eod
from crossline.scenario.runner import execute_step, run_scenario
from crossline.scenario.spec import ScenarioError, parse_scenario
from crossline.servicing import autodebit
from crossline.store.schema import autodebit_attempts, linked_accounts, notifications
from tests.api_support import bearer
from tests.helpers import dump, journal_rows, line_of, run_example, yuan
from tests.web_support import Site, session_token

# Weilidai 6000.00, 5 months, equal principal, daily rate 0.0004, drawn 03-01.
FIRST = Decimal("1200.00") + Decimal(6000) * Decimal("0.0004") * 31  # due 04-01: 1274.40
SECOND = Decimal("1200.00") + Decimal(4800) * Decimal("0.0004") * 30  # due 05-01: 1257.60
PENALTY_A_DAY = Decimal(1200) * Decimal("0.0004") * Decimal("1.5")  # 0.72


BOB = {"borrower": "bob", "product": "weilidai"}


def _fen(amount: Decimal) -> int:
    return int(amount * 100)


def _attempts(engine: sa.Engine) -> list[tuple[Any, ...]]:
    t = autodebit_attempts.c
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(
                    t.due_date, t.attempt, t.business_date, t.due_fen, t.debited_fen, t.outcome
                ).order_by(t.business_date, t.credit_line_id)
            )
        ]


def _notices(engine: sa.Engine) -> list[tuple[date, str, dict[str, Any]]]:
    n = notifications.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(n.business_date, n.kind, n.payload)
            .where(n.kind.like("autodebit%"))
            .order_by(n.notification_id)
        ).all()
    return [(d, k, json.loads(p)) for d, k, p in rows]


def _balance(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(linked_accounts.c.available_fen)).scalar_one())


def test_enough_in_the_account_pays_each_due_date_on_time(engine: sa.Engine) -> None:
    outcome = run_example(engine, "autodebit_pays_on_due_date")
    assert outcome["ledger"]["balanced"]
    assert Decimal("1274.40") == FIRST and Decimal("1257.60") == SECOND
    assert _attempts(engine) == [
        (date(2026, 4, 1), 1, date(2026, 4, 1), _fen(FIRST), _fen(FIRST), "paid"),
        (date(2026, 5, 1), 1, date(2026, 5, 1), _fen(SECOND), _fen(SECOND), "paid"),
    ]
    assert _balance(engine) == _fen(Decimal("5000.00") - FIRST - SECOND)  # 2468.00
    for name in ("after_first_due", "after_second_due"):
        line = line_of(outcome["snapshots"][name], "bob", "weilidai")
        assert line["dpd"] == 0
        assert line["outstanding"]["penalty"] == "0.00"
    schedule = line_of(outcome["snapshots"]["after_second_due"], "bob", "weilidai")["loans"][0]
    assert [row["status"] for row in schedule["schedule"][:2]] == ["paid", "paid"]
    assert outcome["snapshots"]["after_second_due"]["borrowers"]["bob"]["lines"]["weilidai"][
        "outstanding"
    ]["principal"] == yuan("3600")
    assert [(d, k, p["amount_debited"]) for d, k, p in _notices(engine)] == [
        (date(2026, 4, 1), "autodebit_succeeded", yuan(FIRST)),
        (date(2026, 5, 1), "autodebit_succeeded", yuan(SECOND)),
    ]


def test_an_empty_account_fails_three_times_then_the_loan_is_overdue(engine: sa.Engine) -> None:
    outcome = run_example(engine, "autodebit_retries_then_overdue")
    assert outcome["ledger"]["balanced"]
    with_penalty = FIRST + PENALTY_A_DAY  # the penalty of 04-02's close is due on 04-03
    d = date(2026, 4, 1)
    arrears = FIRST + PENALTY_A_DAY * 29  # penalty of the closes 04-02 … 04-30
    assert _attempts(engine) == [
        (d, 1, date(2026, 4, 1), _fen(FIRST), 0, "failed"),
        (d, 2, date(2026, 4, 2), _fen(FIRST), 0, "failed"),
        (d, 3, date(2026, 4, 3), _fen(with_penalty), 0, "failed"),
        (
            date(2026, 5, 1),
            1,
            date(2026, 5, 1),
            _fen(arrears + SECOND),
            _fen(arrears + SECOND),
            "paid",
        ),
    ]
    overdue = line_of(outcome["snapshots"]["after_three_attempts"], "bob", "weilidai")
    assert overdue["dpd"] == 2  # aged at the close of 04-03: 04-03 − 04-01
    assert overdue["bucket"] == "M1"
    assert overdue["outstanding"]["penalty"] == yuan(PENALTY_A_DAY * 2)
    assert _balance(engine) == _fen(Decimal("3000.00") - arrears - SECOND)  # 447.12
    assert yuan(arrears + SECOND) == "2552.88"
    notices = _notices(engine)
    assert [(n[0], n[1], n[2]["attempt"], n[2]["next_attempt"]) for n in notices[:3]] == [
        (date(2026, 4, 1), "autodebit_failed", 1, "2026-04-02"),
        (date(2026, 4, 2), "autodebit_failed", 2, "2026-04-03"),
        (date(2026, 4, 3), "autodebit_failed", 3, None),
    ]
    assert notices[2][2]["shortfall"] == yuan(with_penalty)
    assert notices[3][1] == "autodebit_succeeded"
    assert len(notices) == 4
    cured = line_of(outcome["snapshots"]["after_next_due"], "bob", "weilidai")
    assert cured["dpd"] == 0


def _book(balance: str, end: str = "2026-04-03") -> dict[str, Any]:
    return {
        "start": "2026-03-01",
        "end": end,
        "borrowers": [{"id": "bob", "monthly_income": "9000.00"}],
        "steps": [
            {
                "date": "2026-03-01",
                "open_line": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "limit": "30000.00",
                    "daily_rate": "0.0004",
                },
            },
            {
                "date": "2026-03-01",
                "draw": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "amount": "6000.00",
                    "term_months": 5,
                    "method": "equal_principal",
                },
            },
            {
                "date": "2026-03-02",
                "enable_autodebit": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "account_balance": balance,
                },
            },
        ],
    }


def test_a_partial_debit_takes_what_the_account_holds_and_retries_the_rest(
    engine: sa.Engine,
) -> None:
    data = _book("1000.00")
    data["steps"].append({"date": "2026-04-03", "snapshot": "end"})
    data["steps"].insert(
        3,
        {
            "date": "2026-04-02",
            "set_account_balance": {
                "borrower": "bob",
                "product": "weilidai",
                "account_balance": "500.00",
            },
        },
    )
    outcome = run_scenario(parse_scenario(data), engine)
    assert outcome["ledger"]["balanced"]
    # 04-01: 1000.00 of 1274.40 (interest 74.40, then principal 925.60). 04-02: the retry
    # runs before that day's penalty accrues, so 274.40 is due and 500.00 covers it.
    left = FIRST - Decimal("1000.00")
    assert _attempts(engine) == [
        (date(2026, 4, 1), 1, date(2026, 4, 1), _fen(FIRST), 100_000, "partial"),
        (date(2026, 4, 1), 2, date(2026, 4, 2), _fen(left), _fen(left), "paid"),
    ]
    assert _balance(engine) == _fen(Decimal("500.00") - left)  # 225.60
    line = line_of(outcome["snapshots"]["end"], "bob", "weilidai")
    assert line["dpd"] == 0
    assert line["outstanding"]["penalty"] == "0.00"
    kinds = [(k, p.get("shortfall")) for _, k, p in _notices(engine)]
    assert kinds == [("autodebit_failed", yuan(left)), ("autodebit_succeeded", None)]


def test_a_resumed_close_debits_each_attempt_once(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from crossline.store.engine import make_engine, upgrade

    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    run_scenario(parse_scenario(_book("5000.00", end="2026-04-02")), reference)

    run_scenario(parse_scenario(_book("5000.00", end="2026-03-31")), engine)

    def crash_after_debit(*args: Any) -> Any:
        debited = autodebit.debit_due_lines(*args)
        if not debited.is_empty():
            raise RuntimeError("crash after the debit, inside the partition")
        return debited

    monkeypatch.setattr(runner, "debit_due_lines", crash_after_debit)
    with pytest.raises(RuntimeError):
        run_eod(engine, date(2026, 4, 1))
    monkeypatch.undo()
    run_eod(engine, date(2026, 4, 2))
    assert _attempts(engine) == _attempts(reference)
    assert [a[5] for a in _attempts(engine)] == ["paid"]
    assert len(_notices(engine)) == 1
    assert journal_rows(engine) == journal_rows(reference)
    reference.dispose()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {
                "enable_autodebit": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "account_balance": "-1",
                }
            },
            "step 1: enable_autodebit.account_balance: expected a non-negative amount",
        ),
        (
            {
                "enable_autodebit": {
                    "borrower": "bob",
                    "product": "weilidai",
                    "account_balance": 5.5,
                }
            },
            "step 1: enable_autodebit.account_balance: expected an amount as a string",
        ),
        (
            {"enable_autodebit": BOB},
            "step 1: enable_autodebit.account_balance: Field required",
        ),
        (
            {
                "set_account_balance": {
                    "borrower": "eve",
                    "product": "weilidai",
                    "account_balance": "1",
                }
            },
            "step 1: set_account_balance.borrower: unknown borrower 'eve'",
        ),
    ],
)
def test_bad_steps_name_the_field(step: dict[str, Any], message: str) -> None:
    data = _book("0.00") | {"steps": [{"date": "2026-03-01"} | step]}
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    assert str(error.value).startswith(message)


def test_refused_commands_name_the_rule_and_write_nothing(engine: sa.Engine) -> None:
    run_scenario(parse_scenario(_book("100.00", end="2026-03-02")), engine)
    before = dump(engine)
    steps = parse_scenario(
        _book("0.00")
        | {
            "steps": [
                {
                    "date": "2026-03-03",
                    kind: {"borrower": "bob", "product": product, "account_balance": "9.00"},
                }
                for kind, product in (
                    ("enable_autodebit", "weilidai"),  # already enabled
                    ("enable_autodebit", "huabei"),  # no such line
                    ("set_account_balance", "jiebei"),  # no such line
                )
            ]
        }
    ).steps
    answers = [execute_step(engine, step) for step in steps]
    assert [(a["ok"], a["code"]) for a in answers] == [
        (False, "autodebit_enabled"),
        (False, "no_line"),
        (False, "no_line"),
    ]
    assert "weilidai" in answers[0]["reason"]
    assert dump(engine) == before


def test_the_api_enables_auto_debit_for_the_borrower_and_refuses_staff(site: Site) -> None:
    client = site.client
    body = {"borrower": "ning", "product": "weilidai", "account_balance": "800.00"}
    olga = bearer(session_token(site.engine, "olga"))
    ning = bearer(session_token(site.engine, "ning"))
    before = dump(site.engine)
    assert client.post("/v1/autodebits", json=body, headers=olga).status_code == 403
    bad = client.post("/v1/autodebits", json=body | {"account_balance": "-3"}, headers=ning)
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "account_balance"
    assert dump(site.engine) == before
    answer = client.post("/v1/autodebits", json=body, headers=ning)
    assert answer.status_code == 200, answer.text
    assert answer.json()["account_balance"] == "800.00"
    top_up = body | {"account_balance": "1200.50"}
    assert client.post("/v1/autodebits/balance", json=top_up, headers=ning).status_code == 200
    assert _balance(site.engine) == 120_050
