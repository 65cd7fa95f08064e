"""Backtests: a candidate policy replayed on the stored applications of its group.

The book is built through the real services: the small policy of
``test_applications`` decides ten applications (approvals capped by the request
and by the product, a referral re-decided on its documents, declines for want
of limit), one approved borrower (bo) draws on Jiebei, goes 30 days past due,
repays and is current again before the May report, and asks for Huabei again
on 1 June. Every expected figure is computed here from the stored rows or from
the policies' rules, not by the code under test.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from crossline.cli import app
from crossline.decisions.applications import (
    ApplicationResult,
    apply,
    submit_document,
    submitted_document,
    verify_document,
)
from crossline.decisions.authorisation import authorised_draw
from crossline.decisions.backtest import SWAPS, backtest
from crossline.eod.runner import close_day, run_eod
from crossline.servicing.context import open_context
from crossline.servicing.repayment import repay
from crossline.store.schema import bureau_records, credit_lines, decisions
from tests.helpers import dump
from tests.test_applications import OFFER, START, _setup, _table, small_policy

JUNE = date(2026, 6, 1)
INCOMES = {
    "ana": 600_000,
    "bo": 800_000,
    "cy": 1_200_000,
    "di": 400_000,
    "ed": 300_000,
    "gus": 6_000_000,
}
NO_SWAPS = dict.fromkeys(SWAPS, 0)


def _late(engine: sa.Engine) -> list[ApplicationResult]:
    """The March applications, then days closed until bo is 30 days past due; returns
    every application decision in order."""
    _setup(engine, INCOMES, small_policy())
    with engine.begin() as conn:
        ctx = open_context(conn)
        decided = [
            apply(ctx, "ana", "jiebei"),
            apply(ctx, "bo", "jiebei"),
            apply(ctx, "bo", "huabei"),
            apply(ctx, "cy", "jiebei", requested_limit_fen=1_000_000),
            apply(ctx, "di", "jiebei"),
        ]
        di = decided[-1].application_id
        decided.append(submit_document(ctx, di, "income_proof", 450_000))
        proof = submitted_document(ctx, di, "income_proof")
        decided.append(verify_document(ctx, proof, verified=True))
        decided += [apply(ctx, "ed", "huabei"), apply(ctx, "gus", "huabei")]
        drawn, loan = authorised_draw(ctx, "bo", "jiebei", 300_000, 3, "equal_installment")
        assert drawn.authorised and loan is not None
    while _bo_dpd(engine) < 30:
        close_day(engine)
    return decided


def _cured(engine: sa.Engine, decided: list[ApplicationResult]) -> list[ApplicationResult]:
    """bo repays everything, the book runs through the May report, and on 1 June bo asks
    for Huabei again."""
    with engine.begin() as conn:
        repay(open_context(conn), "bo", "jiebei", "all")
    run_eod(engine, date(2026, 5, 31))
    with engine.begin() as conn:
        return [*decided, apply(open_context(conn), "bo", "huabei")]


def _book(engine: sa.Engine) -> list[ApplicationResult]:
    """The whole book described above."""
    return _cured(engine, _late(engine))


def _bo_dpd(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        dpd = conn.execute(
            sa.select(credit_lines.c.dpd).where(
                credit_lines.c.borrower_id == "bo", credit_lines.c.product == "jiebei"
            )
        ).scalar_one()
    return int(dpd)


def _rate(part: int, whole: int) -> str:
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(Decimal("0.01")))


def _offer_rules(policy: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = policy["decisions"]["application"]["nodes"][2]["content"]["rules"]
    return rules


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["policy", "backtest", *args], env={"COLUMNS": "400"})


def _printed(tmp_path: Path, policy: dict[str, Any], database_url: str) -> Any:
    """``crossline policy backtest`` of ``policy`` over the book's window, 3 March to 1 June."""
    window = ["--from", "2026-03-03", "--to", "2026-06-01", "--database", database_url]
    return _invoke("--policy", _write(tmp_path, policy), *window)


def _write(tmp_path: Path, policy: dict[str, Any]) -> str:
    path = tmp_path / f"{policy['version']}.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    return str(path)


def test_the_deciding_policy_replayed_gives_back_every_stored_decision(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    march = _late(engine)
    with engine.connect() as conn:
        late_now = backtest(conn, json.dumps(small_policy()), START, START)
    # bo is 30 days past due now and no month end has shown it yet: his Jiebei approval
    # went bad, and so would his Huabei application had it been approved
    assert late_now.decisions.filter("bad").get_column("decision_id").to_list() == [
        march[1].decision_id,
        march[2].decision_id,
    ]
    assert late_now.stored[0].bad_rate == Decimal("0.2000")
    decided = _cured(engine, march)
    d = decisions.c
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(d.decision_id, d.outcome, credit_lines.c.limit_fen)
            .select_from(
                decisions.outerjoin(credit_lines, credit_lines.c.credit_line_id == d.credit_line_id)
            )
            .where(d.kind == "application")
            .order_by(d.decision_id)
        ).all()
        late = conn.execute(
            sa.select(bureau_records.c.period_end).where(bureau_records.c.max_dpd >= 30)
        ).all()
        result = backtest(conn, json.dumps(small_policy()), START, JUNE)
        first_day = backtest(conn, json.dumps(small_policy()), START, START)
    # bo's 30 days show only in the May record: he is current again now
    assert late == [(date(2026, 5, 31),)] and _bo_dpd(engine) == 0
    # the policy's own decisions, replayed, give back each outcome and limit to the fen
    expected = [(r.decision_id, r.status, r.limit_fen) for r in decided]
    assert [tuple(r) for r in stored] == expected  # the lines opened with those limits
    frame = result.decisions
    for columns in (
        ["decision_id", "stored_outcome", "stored_limit_fen"],
        ["decision_id", "candidate_outcome", "candidate_limit_fen"],
    ):
        assert frame.select(columns).rows() == expected
    assert result.swaps == NO_SWAPS
    approved = [r for r in stored if r.outcome == "approved"]
    total = sum(r.limit_fen for r in approved)
    assert (len(stored), len(approved), total) == (10, 5, 8_300_000)
    figures = {
        "decisions": len(stored),
        "approval_rate": _rate(len(approved), len(stored)),
        "referral_rate": _rate(sum(r.outcome == "referred" for r in stored), len(stored)),
        "approved_limit_total": _yuan(total),
        "approved_limit_mean": _yuan(total // len(approved)),
        "bad_rate": _rate(1, len(approved)),  # bo, and only bo, went 30 days late
        "approved_unobserved": 0,
    }
    assert result.as_dict() == {
        "group": "ant",
        "from": "2026-03-03",
        "to": "2026-06-01",
        "stored": [{"version": "ant-test-1", "arm": "champion", **figures}],
        "candidate": {"version": "ant-test-1", **figures},
        "swaps": NO_SWAPS,
    }
    # the window is by business date, both ends included: bo's June application is outside
    assert first_day.decisions.get_column("decision_id").to_list() == [
        r.decision_id for r in decided[:-1]
    ]
    printed = _printed(tmp_path, small_policy(), database_url)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == result.as_dict()


def test_other_candidates_count_swaps_and_follow_each_borrower_later(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    decided = _book(engine)
    # stricter: a declared income under 10000.00 (not 5000.00) is referred for proof
    strict = small_policy("ant-strict")
    _offer_rules(strict)[2]["i_declared_income_fen"] = "< 1000000"
    # lenient: only under 1000.00 is referred, and one month's income ignores other lines
    lenient = small_policy("ant-lenient")
    _offer_rules(lenient)[2]["i_declared_income_fen"] = "< 100000"
    _offer_rules(lenient)[3]["o_limit_fen"] = "monthly_income_fen"
    with engine.connect() as conn:
        stricter = backtest(conn, json.dumps(strict), START, JUNE)
        looser = backtest(conn, json.dumps(lenient), START, JUNE)

    # ana (6000.00) and bo (8000.00) were approved and are referred now; bo's two Huabei
    # declines for want of limit are referrals; cy (12000.00), di's verified income and
    # gus are approved as before, with the same limits
    assert stricter.swaps == NO_SWAPS | {"approved_to_referred": 2, "declined_to_referred": 2}
    assert stricter.decisions.select("decision_id", "candidate_outcome").rows() == [
        (r.decision_id, "referred" if r.borrower_id in ("ana", "bo") else r.status) for r in decided
    ]
    kept = [r.limit_fen for r in decided if r.borrower_id in ("cy", "di", "gus") and r.limit_fen]
    assert stricter.candidate.as_dict() == {
        "version": "ant-strict",
        "decisions": 10,
        "approval_rate": _rate(3, 10),
        "referral_rate": _rate(7, 10),
        "approved_limit_total": _yuan(sum(kept)),
        "approved_limit_mean": _yuan(sum(kept) // 3),
        "bad_rate": _rate(0, 3),  # bo is no longer approved
        "approved_unobserved": 0,
    }
    assert [s.version for s in stricter.stored] == ["ant-test-1"]

    # lenient: bo's two Huabei applications and the first decisions of di and ed approve
    ids = [r.decision_id for r in decided]
    bo_huabei, bo_june, di_first, ed = ids[2], ids[9], ids[4], ids[7]
    assert looser.swaps == NO_SWAPS | {"declined_to_approved": 2, "referred_to_approved": 2}
    flips = looser.decisions.filter(
        looser.decisions.get_column("stored_outcome")
        != looser.decisions.get_column("candidate_outcome")
    )
    # bo has no Huabei line: his Jiebei line is followed instead, which went 30 days late
    # after March (bad) but before June (not bad); ed has no line with ant to follow
    assert flips.select("decision_id", "candidate_limit_fen", "bad", "observed").rows() == [
        (bo_huabei, 800_000, True, True),
        (di_first, 400_000, False, True),
        (ed, 300_000, False, False),
        (bo_june, 800_000, False, True),
    ]
    total = 8_300_000 + 800_000 + 400_000 + 300_000 + 800_000
    assert looser.candidate.as_dict() == {
        "version": "ant-lenient",
        "decisions": 10,
        "approval_rate": _rate(9, 10),
        "referral_rate": _rate(1, 10),
        "approved_limit_total": _yuan(total),
        "approved_limit_mean": "11777.78",  # 10600000 / 9 = 1177777.8, half-up
        "bad_rate": _rate(2, 9),  # bo's Jiebei approval and his March Huabei application
        "approved_unobserved": 1,
    }

    printed = _printed(tmp_path, strict, database_url)
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == stricter.as_dict()


def _fractional_policy() -> dict[str, Any]:
    """Decline under 100.00 of income; else approve 0.75 of the income plus 0.99 less the
    group's limits, with a borrower-level limit of half the income."""
    policy = small_policy("ant-fractional")
    offer = _table(
        "offer",
        "first",
        ["declared_income_fen"],
        [*OFFER, "borrower_limit_fen"],
        [
            ["< 10000", '"decline"', "0", "", '"proof"', "", ""],
            [
                "",
                '"approve"',
                "monthly_income_fen * 0.75 + 0.99 - group_limit_fen",
                '"B"',
                "",
                "",
                "monthly_income_fen * 0.5",
            ],
        ],
    )
    policy["decisions"]["application"]["nodes"][2] = offer
    return policy


def test_fractional_amounts_caps_and_borrower_limits_replay_to_the_fen(engine: sa.Engine) -> None:
    people = {"odd": 333_333, "low": 12_000, "tiny": 5_000, "rich": 7_000_000, "mid": 1_000_000}
    policy = _fractional_policy()
    _setup(engine, people, policy)
    with engine.begin() as conn:
        ctx = open_context(conn)
        decided = [
            apply(ctx, "odd", "huabei"),
            apply(ctx, "odd", "jiebei"),
            apply(ctx, "low", "jiebei"),
            apply(ctx, "tiny", "jiebei"),
            apply(ctx, "rich", "huabei"),
            apply(ctx, "mid", "jiebei", requested_limit_fen=200_000),
            apply(ctx, "mid", "huabei"),
        ]
    # computed from the rule: floor to the fen, cap by product and request, then the
    # borrower-level limit; under 100.00 declines
    assert [(r.status, r.limit_fen) for r in decided] == [
        ("approved", 166_666),  # 250000.74 → 250000, borrower limit 166666.5 → 166666
        ("approved", 83_334),  # 250000.74 − 166666 → 83334
        ("declined", None),  # 9000.99 → 9000 is under 100.00
        ("declined", None),  # the decline row
        ("approved", 3_500_000),  # 5250000.99 capped at 50000.00, then half the income
        ("approved", 200_000),  # 750000.99 capped by the request
        ("approved", 500_000),  # 750000.99 − 200000, then half the income
    ]
    with engine.connect() as conn:
        result = backtest(conn, json.dumps(policy), START, START)
    frame = result.decisions
    expected = [(r.decision_id, r.status, r.limit_fen) for r in decided]
    assert frame.select("decision_id", "stored_outcome", "stored_limit_fen").rows() == expected
    assert frame.select("decision_id", "candidate_outcome", "candidate_limit_fen").rows() == (
        expected
    )
    assert result.swaps == NO_SWAPS


def test_bad_input_exits_2_and_an_empty_window_reports_nothing(
    engine: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    _setup(engine, {"ana": 600_000}, small_policy())
    good = _write(tmp_path, small_policy())
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"format": ', encoding="utf-8")
    unpriced = small_policy("ant-unpriced")
    _offer_rules(unpriced)[3]["o_tier"] = '"Z"'
    before = dump(engine)
    window = ["--from", "2026-03-01", "--to", "2026-03-31", "--database", database_url]
    for args, message in [
        (["--policy", good, "--from", "2026-02-30", "--to", "2026-03-31"], "from: "),
        (["--policy", good, "--from", "2026-03-01", "--to", "March"], "to: "),
        (["--policy", good, "--from", "2026-03-31", "--to", "2026-03-01"], "to: expected a date"),
        (["--policy", str(not_json), *window[:4]], "policy: not JSON"),
        (["--policy", str(tmp_path / "absent.json"), *window[:4]], "policy: "),
        (["--policy", _write(tmp_path, unpriced), *window[:4]], "no price for jiebei"),
    ]:
        result = _invoke(*args, "--database", database_url)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    assert dump(engine) == before
    empty = _invoke("--policy", good, *window)
    assert empty.exit_code == 0, empty.output
    assert json.loads(empty.stdout) == {
        "group": "ant",
        "from": "2026-03-01",
        "to": "2026-03-31",
        "stored": [],
        "candidate": {
            "version": "ant-test-1",
            "decisions": 0,
            "approval_rate": None,
            "referral_rate": None,
            "approved_limit_total": "0.00",
            "approved_limit_mean": None,
            "bad_rate": None,
            "approved_unobserved": 0,
        },
        "swaps": NO_SWAPS,
    }
