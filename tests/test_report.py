"""The portfolio report, checked against the database it was built from.

One simulated book (a real run of the engine on SQLite) is measured twice:
by the report, and here, with plain SQL over the raw tables and plain Python
loops — never through the report's own functions or Polars pipelines. Counts
and fen are compared exactly, ratios to 1e-12. The book is checked to hold
every kind of event the report measures, so no comparison is vacuous, and to
reconcile: the ledger balances and every line's bucket is what its loans say.
"""

from __future__ import annotations

import calendar
import dataclasses
import itertools
import json
import math
import re
import sqlite3
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import plotly.offline
import polars as pl
import pytest
from typer.testing import CliRunner

from crossline.catalog import catalog_to_json, load_catalog
from crossline.cli import app
from crossline.report import EmptyBookError, Report, build_report, measures
from crossline.report import contagion as report_contagion
from crossline.report.book import Book, read_book
from crossline.report.sections import limit_actions as limit_actions_section
from crossline.scoring.metrics import PSI_FLOOR
from crossline.sim.run import simulate
from crossline.sim.traits import STRESSED_SHOCKS
from crossline.store import platform
from crossline.store.engine import make_engine, upgrade

pytestmark = pytest.mark.xdist_group("report")
"""Under ``--dist loadgroup`` every test here runs on one worker, so the book is simulated
once; under plain ``-n`` each worker that runs one of them simulates its own."""

BORROWERS = 65
MONTHS = 4
SEED = 7
START = date(2025, 12, 10)
"""Four months is the shortest run with a month end followed by three more (the model's
outcome window). Starting on 10 December, the first bills fall due in January, so an
overdue can pass 30 days, be reported at the February or March month end and be acted
on by another lender group before the run ends on 9 April. The population is the
stressed one (``STRESSED_SHOCKS``): a calibrated book this small and short rarely holds
an overdue another group acts on. Of the seeds tried, 7 is the first whose book holds
every kind of event the report measures (the first test checks it); the run takes about
45 s here, most of it the fixed cost of 121 closes."""

CHROMIUM = Path("/usr/bin/chromium")
RECEIVABLES = ("loan_principal", "interest_receivable", "fee_receivable", "penalty_receivable")
"""The journal's receivable accounts, whose sum is what borrowers owe."""
BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
RANK = {bucket: rank for rank, bucket in enumerate(BUCKETS)}
ADVERSE = ("reduce", "pause", "freeze", "close")
NEGATIVE_STATUSES = ("1", "2", "3", "4", "5", "6", "7", "B")
"""PBOC per-account statuses that report a delinquency (1-7) or bad debt (B)."""

SECTION_KEYS = (
    "portfolio",
    "delinquency",
    "roll_rates",
    "vintages",
    "scores",
    "decisions",
    "limit_actions",
    "contagion",
    "bureau",
    "model",
)


# --- the simulated book -------------------------------------------------------------------


@dataclass(frozen=True)
class Simulated:
    """The simulated book: its file, a raw connection to it, and the report built on it."""

    path: Path
    url: str
    db: sqlite3.Connection
    first: date
    last: date
    """The first and the last closed business day, read from ``eod_days``."""
    book: Book
    report: Report

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def one(self, sql: str, *params: object) -> tuple[Any, ...]:
        row = self.db.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)

    def section(self, key: str) -> str:
        """The reading of the section ``key``."""
        (reading,) = [s.reading for s in self.report.sections if s.key == key]
        return reading


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulated]:
    """Simulate the book once for the module, and build its report as the CLI would."""
    path = tmp_path_factory.mktemp("report") / "book.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    result = simulate(
        engine, load_catalog("default"), BORROWERS, MONTHS, SEED, START, shocks=STRESSED_SHOCKS
    )
    assert result.ledger_balanced
    with engine.connect() as conn:
        book = read_book(conn)
        report = build_report(conn)
    engine.dispose()
    db = sqlite3.connect(path)
    first, last = db.execute(
        "SELECT min(business_date), max(business_date) FROM eod_days"
    ).fetchone()
    yield Simulated(
        path, url, db, date.fromisoformat(first), date.fromisoformat(last), book, report
    )
    db.close()


# --- independent arithmetic ---------------------------------------------------------------


def bucket_of(dpd: int) -> str:
    """DOMAIN §2: M0 current, M1 1-30 days past due, M2 31-60, ..., M6 151-180, M7+ beyond."""
    if dpd <= 0:
        return "M0"
    if dpd > 180:
        return "M7+"
    return f"M{(dpd - 1) // 30 + 1}"


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day."""
    year, month = divmod(month_index(day) + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def month_ends(first: date, last: date) -> list[date]:
    """Closed days that are the last day of their month."""
    return [day for day in days(first, last) if (day + timedelta(days=1)).month != day.month]


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def yuan(fen: int) -> str:
    """Whole yuan (floor of fen / 100) with thousands separators."""
    return f"¥{fen // 100:,}"


def product_name(product: str) -> str:
    return product.capitalize()


def latest(history: list[tuple[date, int, str]], day: date, default: str) -> str:
    """The value of the last (day, event id) entry dated on or before ``day``."""
    value = default
    for when, _event, after in history:
        if when > day:
            break
        value = after
    return value


def psi(expected: list[int], actual: list[int], cuts: list[int]) -> float:
    """Population stability index over bins [cut_i, cut_i+1) with open ends, each share
    floored at PSI_FLOOR: Σ (a − e)·ln(a / e)."""

    def shares(scores: list[int]) -> list[float]:
        counts = [0] * (len(cuts) + 1)
        for score in scores:
            counts[sum(1 for cut in cuts if cut <= score)] += 1
        return [max(count / len(scores), PSI_FLOOR) for count in counts]

    e, a = shares(expected), shares(actual)
    return sum((ai - ei) * math.log(ai / ei) for ai, ei in zip(a, e, strict=True))


def auc_pairwise(bad_scores: list[int], good_scores: list[int]) -> float:
    """Share of (bad, good) pairs in which the bad scored lower (riskier); ties count half."""
    wins = 0.0
    for bad in bad_scores:
        for good in good_scores:
            wins += 1.0 if bad < good else 0.5 if bad == good else 0.0
    return wins / (len(bad_scores) * len(good_scores))


def ks_statistic(bad_scores: list[int], good_scores: list[int]) -> float:
    """Largest gap between the bads' and goods' shares at or below any score."""
    gaps = []
    for threshold in sorted(set(bad_scores) | set(good_scores)):
        bad_share = sum(1 for s in bad_scores if s <= threshold) / len(bad_scores)
        good_share = sum(1 for s in good_scores if s <= threshold) / len(good_scores)
        gaps.append(abs(bad_share - good_share))
    return max(gaps)


def frame_rows(frame: Any) -> list[dict[str, Any]]:
    """A report frame as plain dicts."""
    return list(frame.iter_rows(named=True))


# --- independent readings of the raw tables -----------------------------------------------


@dataclass(frozen=True)
class Line:
    credit_line_id: int
    borrower_id: str
    lender_group: str
    product: str
    opened_on: date


def lines_of(sim: Simulated) -> dict[int, Line]:
    """Every line opened on or before the last closed day."""
    return {
        row[0]: Line(row[0], row[1], row[2], row[3], date.fromisoformat(row[4]))
        for row in sim.rows(
            "SELECT credit_line_id, borrower_id, lender_group, product, opened_on "
            "FROM credit_lines WHERE opened_on <= ? ORDER BY credit_line_id",
            sim.last.isoformat(),
        )
    }


def bucket_histories(sim: Simulated) -> dict[int, list[tuple[date, int, str]]]:
    """Per line, its bucket_changed events through the last day: (day, event id, to)."""
    histories: dict[int, list[tuple[date, int, str]]] = defaultdict(list)
    for event_id, day, line, payload in sim.rows(
        "SELECT event_id, business_date, credit_line_id, payload FROM outbox "
        "WHERE type = 'bucket_changed' AND business_date <= ? ORDER BY business_date, event_id",
        sim.last.isoformat(),
    ):
        histories[line].append(
            (date.fromisoformat(day), event_id, json.loads(payload)["to_bucket"])
        )
    return histories


@dataclass(frozen=True)
class LimitEvent:
    event_id: int
    day: date
    credit_line_id: int
    action: str
    old_status: str
    status: str
    decision_id: int | None


def limit_events(sim: Simulated, through: date | None = None) -> list[LimitEvent]:
    """``limit_changed`` events in the order they were written (optionally through a day)."""
    events = []
    for event_id, day, line, payload in sim.rows(
        "SELECT event_id, business_date, credit_line_id, payload FROM outbox "
        "WHERE type = 'limit_changed' ORDER BY event_id"
    ):
        body = json.loads(payload)
        event = LimitEvent(
            event_id,
            date.fromisoformat(day),
            line,
            body["action"],
            body["old_status"],
            body["status"],
            body.get("decision_id"),
        )
        if through is None or event.day <= through:
            events.append(event)
    return events


def first_reason_texts(sim: Simulated) -> dict[int, str | None]:
    """Each decision's first reason text (None if it gave none)."""
    texts = {}
    for decision_id, reasons in sim.rows("SELECT decision_id, reasons FROM decisions"):
        said = json.loads(reasons)
        texts[decision_id] = said[0]["text"] if said else None
    return texts


def late_records(sim: Simulated, dpd: int) -> list[tuple[str, int, date]]:
    """(borrower, line, period end) of bureau records with max_dpd of at least ``dpd``."""
    return [
        (borrower, line, date.fromisoformat(period))
        for borrower, line, period in sim.rows(
            "SELECT borrower_id, credit_line_id, period_end FROM bureau_records "
            "WHERE max_dpd >= ? AND period_end <= ?",
            dpd,
            sim.last.isoformat(),
        )
    ]


@dataclass(frozen=True)
class Episode:
    line: Line
    overdue_on: date
    cured_on: date | None
    peak: str


def episodes(sim: Simulated) -> dict[tuple[int, date], Episode]:
    """Every overdue spell of every line, keyed by (line, start): from an overdue_started
    event to the line's next cure, and the worst bucket reached in between (M1 if no
    bucket event says)."""
    lines = lines_of(sim)
    started: set[tuple[int, date]] = set()
    cures: dict[int, list[date]] = defaultdict(list)
    for kind, day, line in sim.rows(
        "SELECT type, business_date, credit_line_id FROM outbox "
        "WHERE type IN ('overdue_started', 'cured') AND business_date <= ? ORDER BY event_id",
        sim.last.isoformat(),
    ):
        when = date.fromisoformat(day)
        if kind == "overdue_started":
            started.add((line, when))
        else:
            cures[line].append(when)
    histories = bucket_histories(sim)
    result = {}
    for line_id, overdue_on in sorted(started):
        cured_on = min((d for d in cures[line_id] if d > overdue_on), default=None)
        peak = "M1"
        for when, _event, bucket in histories.get(line_id, []):
            if when >= overdue_on and (cured_on is None or when <= cured_on):
                peak = max(peak, bucket, key=RANK.__getitem__)
        result[(line_id, overdue_on)] = Episode(lines[line_id], overdue_on, cured_on, peak)
    return result


def attributed_actions(sim: Simulated) -> dict[tuple[int, date, int], list[LimitEvent]]:
    """Adverse actions on lines in M0 that day, each under the episode it answered. The
    candidates are the borrower's overdues on other lines that the acting line's group
    could see: its own group's at once, another group's from the first month end (no
    later than the action) whose bureau record of that line was negative, between the
    month the overdue began and the month it was cured. Of those: the latest still open
    on the day of the action (cured that day or later, or never), else the latest begun
    on or before it; an episode in the action's own group first on a tie, then the lower
    line id."""
    lines = lines_of(sim)
    histories = bucket_histories(sim)
    spells = episodes(sim)
    negative: dict[int, list[date]] = defaultdict(list)
    for line_id, period in sim.rows(
        "SELECT credit_line_id, period_end FROM bureau_records WHERE status IN "
        f"({','.join('?' * len(NEGATIVE_STATUSES))})",
        *NEGATIVE_STATUSES,
    ):
        negative[line_id].append(date.fromisoformat(period))

    def seen_by(group: str, e: Episode, day: date) -> bool:
        if e.line.lender_group == group:
            return True
        last = None if e.cured_on is None else month_end(e.cured_on)
        return any(
            e.overdue_on <= period <= day and (last is None or period <= last)
            for period in negative[e.line.credit_line_id]
        )

    result: dict[tuple[int, date, int], list[LimitEvent]] = defaultdict(list)
    for event in limit_events(sim, sim.last):
        if event.action not in ADVERSE:
            continue
        if latest(histories.get(event.credit_line_id, []), event.day, "M0") != "M0":
            continue
        target = lines[event.credit_line_id]
        candidates = [
            (line_id, start, e)
            for (line_id, start), e in spells.items()
            if e.line.borrower_id == target.borrower_id
            and line_id != target.credit_line_id
            and start <= event.day
            and seen_by(target.lender_group, e, event.day)
        ]
        if not candidates:
            continue
        line_id, start, _ = max(
            candidates,
            key=lambda c: (
                c[2].cured_on is None or c[2].cured_on >= event.day,
                c[1],
                c[2].line.lender_group == target.lender_group,
                -c[0],
            ),
        )
        result[(line_id, start, target.credit_line_id)].append(event)
    return result


def expected_pairs(sim: Simulated) -> list[dict[str, Any]]:
    """Each episode with each other line its borrower held the day it began, and the first
    adverse action attributed to it on that other line."""
    lines = lines_of(sim)
    reasons = first_reason_texts(sim)
    attributed = attributed_actions(sim)
    by_borrower: dict[str, list[Line]] = defaultdict(list)
    for line in lines.values():
        by_borrower[line.borrower_id].append(line)
    pairs = []
    for (source_id, overdue_on), episode in sorted(episodes(sim).items()):
        source = episode.line
        for other in sorted(by_borrower[source.borrower_id], key=lambda x: x.credit_line_id):
            if other.credit_line_id == source_id or other.opened_on > overdue_on:
                continue
            answered = attributed.get((source_id, overdue_on, other.credit_line_id), [])
            first = min(answered, key=lambda e: (e.day, e.event_id), default=None)
            pairs.append(
                {
                    "borrower_id": source.borrower_id,
                    "source_line": source_id,
                    "source_group": source.lender_group,
                    "source_product": source.product,
                    "overdue_on": overdue_on,
                    "cured_on": episode.cured_on,
                    "peak_bucket": episode.peak,
                    "past_30": RANK[episode.peak] >= RANK["M2"],
                    "other_line": other.credit_line_id,
                    "other_group": other.lender_group,
                    "other_product": other.product,
                    "same_group": other.lender_group == source.lender_group,
                    "action": None if first is None else first.action,
                    "reason": None if first is None else reasons.get(first.decision_id or -1),
                    "acted_on": None if first is None else first.day,
                    "days": None if first is None else (first.day - overdue_on).days,
                }
            )
    return pairs


@dataclass(frozen=True)
class Observation:
    lender_group: str
    period_end: date
    borrower_id: str
    score: int
    bad: bool


def observations(sim: Simulated) -> list[Observation]:
    """Month-end scores of borrowers who held a line then and had not yet been reported
    30+ days late; bad if reported 30+ late at a month end in the following three months."""
    ends = [e for e in month_ends(sim.first, sim.last) if add_months(e, 3) <= sim.last]
    opened: dict[str, date] = {}
    for line in lines_of(sim).values():
        opened[line.borrower_id] = min(opened.get(line.borrower_id, line.opened_on), line.opened_on)
    late: dict[str, list[date]] = defaultdict(list)
    for borrower, _line, period in late_records(sim, 30):
        late[borrower].append(period)
    result = []
    for borrower, group, period, score in sim.rows(
        "SELECT borrower_id, lender_group, period_end, score FROM feature_snapshots"
    ):
        end = date.fromisoformat(period)
        if end not in ends or borrower not in opened or opened[borrower] > end:
            continue
        if any(when <= end for when in late[borrower]):
            continue
        horizon = month_end(add_months(month_start(end), 3))
        bad = any(end < when <= horizon for when in late[borrower])
        result.append(Observation(group, end, borrower, score, bad))
    return result


def review_actions(sim: Simulated) -> list[tuple[date, str, str]]:
    """(day, product, outcome) of every account-management decision through the last day."""
    return [
        (date.fromisoformat(day), product, outcome)
        for day, product, outcome in sim.rows(
            "SELECT business_date, product, outcome FROM decisions "
            "WHERE kind = 'review' AND business_date <= ?",
            sim.last.isoformat(),
        )
    ]


def application_counts(sim: Simulated) -> Counter[tuple[str, str]]:
    return Counter(
        {
            (product, outcome): n
            for product, outcome, n in sim.rows(
                "SELECT product, outcome, count(*) FROM decisions "
                "WHERE kind = 'application' AND business_date <= ? GROUP BY product, outcome",
                sim.last.isoformat(),
            )
        }
    )


def month_end_rows(sim: Simulated) -> dict[date, dict[str, Any]]:
    """Per month end: accounts, reported balance, balance 30+ and 90+ DPD, negative counts."""
    negative = ", ".join(f"'{s}'" for s in NEGATIVE_STATUSES)
    result = {}
    for period, accounts, balance, dpd30, dpd90, reported, actual in sim.rows(
        "SELECT period_end, count(*), sum(balance_fen), "
        "sum(CASE WHEN dpd >= 30 THEN balance_fen ELSE 0 END), "
        "sum(CASE WHEN dpd >= 90 THEN balance_fen ELSE 0 END), "
        f"sum(status IN ({negative})), sum(actual_status IN ({negative})) "
        "FROM bureau_records WHERE period_end <= ? GROUP BY period_end ORDER BY period_end",
        sim.last.isoformat(),
    ):
        result[date.fromisoformat(period)] = {
            "accounts": accounts,
            "balance_fen": balance,
            "dpd30_fen": dpd30,
            "dpd90_fen": dpd90,
            "negative_reported": reported,
            "negative_actual": actual,
            "dpd30_share": dpd30 / balance if balance else 0.0,
            "dpd90_share": dpd90 / balance if balance else 0.0,
        }
    return result


def ever_late(sim: Simulated) -> tuple[int, int, int]:
    """Borrowers holding a line, and how many were ever reported 30+ and 90+ days late."""
    holders = {line.borrower_id for line in lines_of(sim).values()}
    worst = dict(
        sim.rows(
            "SELECT borrower_id, max(max_dpd) FROM bureau_records WHERE period_end <= ? "
            "GROUP BY borrower_id",
            sim.last.isoformat(),
        )
    )
    ever_30 = sum(1 for b in holders if worst.get(b, -1) >= 30)
    ever_90 = sum(1 for b in holders if worst.get(b, -1) >= 90)
    return len(holders), ever_30, ever_90


def balance_on(sim: Simulated, day: date) -> dict[str, int]:
    """What borrowers owed per product at the close of ``day``: every receivable posting
    (debit positive) on or before it."""
    accounts = ", ".join(f"'{a}'" for a in RECEIVABLES)
    return dict(
        sim.rows(
            "SELECT c.product, sum(j.amount_fen) FROM journal j "
            "JOIN credit_lines c ON c.credit_line_id = j.credit_line_id "
            f"WHERE j.account IN ({accounts}) AND j.business_date <= ? GROUP BY c.product",
            day.isoformat(),
        )
    )


def statuses_on(sim: Simulated, day: date) -> Counter[tuple[str, str]]:
    """Lines per (product, status) at the close of ``day``: each line's status after its
    last limit_changed event through that day, active before any."""
    history: dict[int, list[tuple[date, int, str]]] = defaultdict(list)
    for event in limit_events(sim):
        history[event.credit_line_id].append((event.day, event.event_id, event.status))
    return Counter(
        (line.product, latest(sorted(history[line.credit_line_id]), day, "active"))
        for line in lines_of(sim).values()
        if line.opened_on <= day
    )


# --- the book holds what the report measures ------------------------------------------------


def test_the_book_holds_every_kind_of_event_the_report_measures(sim: Simulated) -> None:
    beyond_30 = sim.one(
        "SELECT count(*) FROM outbox WHERE type = 'bucket_changed' "
        "AND json_extract(payload, '$.dpd') > 30 AND business_date <= ?",
        sim.last.isoformat(),
    )[0]
    assert beyond_30 > 0, "no overdue passed 30 days"
    acted = [p for p in expected_pairs(sim) if p["action"] is not None]
    # A line in another group losing credit because the bureau showed the overdue — not
    # merely an action that followed it (a second overdue in the line's own group can).
    reported_elsewhere = {
        (line, date.fromisoformat(day))
        for line, day in sim.rows(
            "SELECT credit_line_id, business_date FROM outbox WHERE type = 'limit_changed' "
            "AND json_extract(payload, '$.reason') = 'reported_elsewhere' AND business_date <= ?",
            sim.last.isoformat(),
        )
    }
    assert any(
        not p["same_group"] and (p["other_line"], p["acted_on"]) in reported_elsewhere
        for p in acted
    ), "no cross-group contagion action"
    assert any(p["same_group"] for p in acted), "no same-group action"
    applications = application_counts(sim)
    for outcome in ("approved", "referred", "declined"):
        assert sum(n for (_, o), n in applications.items() if o == outcome) > 0, outcome
    refused = sim.one(
        "SELECT count(*) FROM decisions WHERE kind = 'authorisation' AND outcome = 'refused'"
    )[0]
    assert refused > 0, "no refused authorisation"
    negative = sum(row["negative_reported"] for row in month_end_rows(sim).values())
    assert negative > 0, "no negative bureau record"
    seen = observations(sim)
    assert any(o.bad for o in seen) and any(not o.bad for o in seen), "model_quality is moot"
    assert len(month_ends(sim.first, sim.last)) >= 3, "roll rates and vintages need month ends"


def test_the_ledger_balances_entry_by_entry(sim: Simulated) -> None:
    unbalanced = sim.rows("SELECT entry_id FROM journal GROUP BY entry_id HAVING sum(amount_fen)")
    assert unbalanced == []
    assert sim.one("SELECT count(DISTINCT entry_id), sum(amount_fen) FROM journal")[1] == 0


# --- portfolio ------------------------------------------------------------------------------


def test_balances_are_the_receivable_postings_to_each_close(sim: Simulated) -> None:
    report: dict[tuple[date, str], int] = {
        (row["business_date"], row["product"]): row["balance_fen"]
        for row in frame_rows(measures.balances(sim.book))
    }
    products = {product for _, product in report}
    assert products == set(balance_on(sim, sim.last))
    expected = {}
    for day in days(sim.first, sim.last):
        owed = balance_on(sim, day)
        for product in products:
            expected[(day, product)] = owed.get(product, 0)
    assert report == expected


def test_line_statuses_on_the_last_day_are_the_lines_table(sim: Simulated) -> None:
    """The lines table now, with every status change dated after the last close undone
    (the open day's handlers run after it), gives the last day's counts."""
    status = dict(
        sim.rows(
            "SELECT credit_line_id, status FROM credit_lines WHERE opened_on <= ?",
            sim.last.isoformat(),
        )
    )
    for event in reversed(limit_events(sim)):
        if event.day > sim.last and event.credit_line_id in status:
            assert status[event.credit_line_id] == event.status
            status[event.credit_line_id] = event.old_status
    lines = lines_of(sim)
    expected = Counter((lines[line].product, value) for line, value in status.items())
    report = {
        (row["product"], row["status"]): row["lines"]
        for row in frame_rows(measures.line_statuses(sim.book))
        if row["business_date"] == sim.last and row["lines"]
    }
    assert report == dict(expected)
    assert sum(expected.values()) == len(lines)


def test_line_statuses_on_every_day_replay_the_limit_events(sim: Simulated) -> None:
    previous: dict[int, str] = {}
    for event in limit_events(sim):
        assert event.old_status == previous.get(event.credit_line_id, "active"), event
        previous[event.credit_line_id] = event.status
    report: dict[date, dict[tuple[str, str], int]] = defaultdict(dict)
    for row in frame_rows(measures.line_statuses(sim.book)):
        if row["lines"]:
            report[row["business_date"]][(row["product"], row["status"])] = row["lines"]
    for day in days(sim.first, sim.last):
        assert report[day] == dict(statuses_on(sim, day)), day


def test_portfolio_reading(sim: Simulated) -> None:
    owed = balance_on(sim, sim.last)
    total = sum(owed.values())
    top = max(owed, key=owed.__getitem__)
    statuses = statuses_on(sim, sim.last)
    active = sum(n for (_, status), n in statuses.items() if status == "active")
    held_back = sum(n for (_, status), n in statuses.items() if status != "active")
    reading = sim.section("portfolio")
    assert f"On {sim.last} borrowers owed {yuan(total)} across {active} active lines" in reading
    assert f"({held_back} more paused, frozen or closed)" in reading
    assert f"{product_name(top)} carried the most, {yuan(owed[top])}" in reading
    assert f"({percent(owed[top] / total)})" in reading


# --- delinquency ----------------------------------------------------------------------------


def test_bucket_events_chain_and_agree_with_their_dpd(sim: Simulated) -> None:
    """Each bucket_changed leaves the bucket the previous one entered, and enters the bucket
    of its DPD — or M0 while the DPD is within the product's grace days."""
    grace = dict(sim.rows("SELECT credit_line_id, max(grace_days) FROM loans GROUP BY 1"))
    was: dict[int, str] = {}
    for line, payload in sim.rows(
        "SELECT credit_line_id, payload FROM outbox WHERE type = 'bucket_changed' ORDER BY event_id"
    ):
        body = json.loads(payload)
        assert body["from_bucket"] == was.get(line, "M0"), (line, body)
        counted = body["dpd"] if body["dpd"] > grace[line] else 0
        assert body["to_bucket"] == bucket_of(counted), (line, body)
        was[line] = body["to_bucket"]


def test_buckets_on_the_last_day_are_the_lines_table(sim: Simulated) -> None:
    bucket = dict(
        sim.rows(
            "SELECT credit_line_id, bucket FROM credit_lines WHERE opened_on <= ?",
            sim.last.isoformat(),
        )
    )
    for line, payload in sim.rows(
        "SELECT credit_line_id, payload FROM outbox WHERE type = 'bucket_changed' "
        "AND business_date > ? ORDER BY event_id DESC",
        sim.last.isoformat(),
    ):
        bucket[line] = json.loads(payload)["from_bucket"]
    expected = Counter(b for b in bucket.values() if b != "M0")
    report = {
        row["bucket"]: row["lines"]
        for row in frame_rows(measures.buckets(sim.book))
        if row["business_date"] == sim.last and row["lines"]
    }
    assert report == dict(expected)
    assert sum(expected.values()) > 0


def test_buckets_on_every_day_replay_the_bucket_events(sim: Simulated) -> None:
    lines = lines_of(sim)
    histories = bucket_histories(sim)
    report: dict[date, dict[str, int]] = defaultdict(dict)
    for row in frame_rows(measures.buckets(sim.book)):
        if row["lines"]:
            report[row["business_date"]][row["bucket"]] = row["lines"]
    for day in days(sim.first, sim.last):
        counts = Counter(
            latest(histories.get(line.credit_line_id, []), day, "M0")
            for line in lines.values()
            if line.opened_on <= day
        )
        counts.pop("M0", None)
        assert report[day] == dict(counts), day


def loan_dpd_at_close(sim: Simulated, day: date) -> dict[int, tuple[int, int, int]]:
    """Per active loan at the close of ``day``: (line, days past due, grace days).

    An installment loan is as late as its oldest open installment due by then with
    anything unpaid; a revolving loan as its oldest statement due before then whose
    minimum is not met.
    """
    ages = {}
    for loan, line, grace, oldest in sim.rows(
        "SELECT l.loan_id, l.credit_line_id, l.grace_days, min(i.due_date) FROM loans l "
        "JOIN installments i ON i.loan_id = l.loan_id "
        "WHERE l.status = 'active' AND l.kind != 'revolving' AND i.status = 'open' "
        "AND i.due_date <= ? "
        "AND (i.principal_fen - i.paid_principal_fen) + (i.interest_fen - i.paid_interest_fen)"
        " + (i.fee_fen - i.paid_fee_fen) + (i.penalty_fen - i.paid_penalty_fen) > 0 "
        "GROUP BY l.loan_id",
        day.isoformat(),
    ):
        ages[loan] = (line, (day - date.fromisoformat(oldest)).days, grace)
    for loan, line, grace, oldest in sim.rows(
        "SELECT l.loan_id, l.credit_line_id, l.grace_days, min(s.due_date) FROM loans l "
        "JOIN statements s ON s.credit_line_id = l.credit_line_id "
        "WHERE l.status = 'active' AND l.kind = 'revolving' AND s.due_date < ? "
        "AND s.paid_fen < s.minimum_fen GROUP BY l.loan_id",
        day.isoformat(),
    ):
        ages[loan] = (line, (day - date.fromisoformat(oldest)).days, grace)
    return ages


def test_every_line_is_as_late_as_its_latest_loan(sim: Simulated) -> None:
    """Reconciliation: each line's DPD and bucket are those of its most overdue loan, aged
    from the installments and statements themselves; each bucket's count is its loans'."""
    ages = loan_dpd_at_close(sim, sim.last)
    stored_loans = dict(sim.rows("SELECT loan_id, dpd FROM loans WHERE status = 'active'"))
    for loan, dpd in stored_loans.items():
        assert dpd == (ages[loan][1] if loan in ages else 0), loan
    raw: dict[int, int] = defaultdict(int)
    counted: dict[int, int] = defaultdict(int)
    for line, dpd, grace in ages.values():
        raw[line] = max(raw[line], dpd)
        counted[line] = max(counted[line], dpd if dpd > grace else 0)
    stored = sim.rows(
        "SELECT credit_line_id, dpd, bucket FROM credit_lines "
        "WHERE written_off_on IS NULL AND opened_on <= ?",
        sim.last.isoformat(),
    )
    for line, dpd, bucket in stored:
        assert (dpd, bucket) == (raw[line], bucket_of(counted[line])), line
    from_loans = Counter(bucket_of(counted[line]) for line, _, _ in stored)
    report = {
        row["bucket"]: row["lines"]
        for row in frame_rows(measures.buckets(sim.book))
        if row["business_date"] == sim.last
    }
    for bucket in BUCKETS[1:]:
        assert report.get(bucket, 0) == from_loans[bucket], bucket
    assert any(bucket != "M0" for bucket in from_loans)


def test_month_end_delinquency(sim: Simulated) -> None:
    expected = month_end_rows(sim)
    report = frame_rows(measures.month_end_delinquency(sim.book))
    assert [row["period_end"] for row in report] == sorted(expected)
    for row in report:
        want = expected[row["period_end"]]
        for key in ("accounts", "balance_fen", "dpd30_fen", "dpd90_fen"):
            assert row[key] == want[key], (row["period_end"], key)
        for key in ("negative_reported", "negative_actual"):
            assert row[key] == want[key], (row["period_end"], key)
        for key in ("dpd30_share", "dpd90_share"):
            assert row[key] == pytest.approx(want[key], rel=1e-12), (row["period_end"], key)


def test_ever_late_borrowers(sim: Simulated) -> None:
    borrowers, ever_30, ever_90 = ever_late(sim)
    (row,) = frame_rows(measures.ever_late_borrowers(sim.book))
    assert (row["borrowers"], row["ever_30"], row["ever_90"]) == (borrowers, ever_30, ever_90)
    assert ever_30 > 0


def test_delinquency_reading(sim: Simulated) -> None:
    rows = month_end_rows(sim)
    last_end = max(rows)
    last = rows[last_end]
    rate = last["dpd90_share"]
    against = "within" if 0.01 <= rate <= 0.03 else ("below" if rate < 0.01 else "above")
    borrowers, _, ever_90 = ever_late(sim)
    reading = sim.section("delinquency")
    assert (
        f"At {last_end}, {percent(last['dpd30_share'])} of the reported balance was 30+ days "
        f"past due and {percent(rate)} was 90+, {against} the 1–3%"
    ) in reading
    assert f"{ever_90} of {borrowers} borrowers with a line ({percent(ever_90 / borrowers)})" in (
        reading
    )


def buckets_at_month_ends(sim: Simulated) -> tuple[list[date], dict[date, dict[int, str]]]:
    """Each line's bucket at the close of each month end it was open on."""
    ends = month_ends(sim.first, sim.last)
    histories = bucket_histories(sim)
    at = {
        end: {
            line.credit_line_id: latest(histories.get(line.credit_line_id, []), end, "M0")
            for line in lines_of(sim).values()
            if line.opened_on <= end
        }
        for end in ends
    }
    return ends, at


def test_roll_rates(sim: Simulated) -> None:
    ends, at = buckets_at_month_ends(sim)
    expected: dict[tuple[date, str], list[int]] = {}
    for before, after in itertools.pairwise(ends):
        for line, bucket in at[before].items():
            if bucket == "M7+":
                continue
            counts = expected.setdefault((after, bucket), [0, 0])
            counts[0] += 1
            if RANK[at[after][line]] == RANK[bucket] + 1:
                counts[1] += 1
    report = frame_rows(measures.roll_rates(sim.book))
    assert {(r["month"], r["from_bucket"]): [r["lines"], r["rolled"]] for r in report} == expected
    for row in report:
        assert row["rate"] == pytest.approx(row["rolled"] / row["lines"], rel=1e-12)
    assert any(rolled for (_, bucket), (_, rolled) in expected.items() if bucket != "M0")

    pooled: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, bucket), (lines, rolled) in expected.items():
        pooled[bucket][0] += lines
        pooled[bucket][1] += rolled
    parts = []
    for bucket in sorted(pooled, key=RANK.__getitem__)[:3]:
        lines, rolled = pooled[bucket]
        following = BUCKETS[RANK[bucket] + 1]
        parts.append(
            f"{percent(rolled / lines)} of lines in {bucket} rolled to {following} "
            f"({rolled} of {lines})"
        )
    assert "; ".join(parts) + "." in sim.section("roll_rates")


def test_vintages(sim: Simulated) -> None:
    ends = month_ends(sim.first, sim.last)
    first_late: dict[int, date] = {}
    for _borrower, line, period in late_records(sim, 30):
        first_late[line] = min(first_late.get(line, period), period)
    expected: dict[tuple[date, int], list[int]] = {}
    for line in lines_of(sim).values():
        if line.opened_on > ends[-1]:
            continue
        vintage = month_start(line.opened_on)
        for on_book in range(len(ends)):
            if month_index(vintage) + on_book > month_index(ends[-1]):
                break
            counts = expected.setdefault((vintage, on_book), [0, 0])
            counts[0] += 1
            late = first_late.get(line.credit_line_id)
            if late is not None and month_index(late) - month_index(vintage) <= on_book:
                counts[1] += 1
    report = frame_rows(measures.vintages(sim.book))
    assert {
        (r["vintage"], r["months_on_book"]): [r["lines"], r["ever_late"]] for r in report
    } == expected
    for row in report:
        assert row["rate"] == pytest.approx(row["ever_late"] / row["lines"], rel=1e-12)

    sizes = {vintage: lines for (vintage, on_book), (lines, _) in expected.items() if on_book == 0}
    largest = min(sizes, key=lambda v: (-sizes[v], v))
    on_book = max(k for v, k in expected if v == largest)
    lines, late = expected[(largest, on_book)]
    assert (
        f"Of the {lines} lines opened in {largest:%B %Y}, the largest vintage, {late} "
        f"({percent(late / lines)}) had been 30+ days late after {on_book} months on book."
    ) in sim.section("vintages")


# --- scores ---------------------------------------------------------------------------------


def snapshot_scores(sim: Simulated) -> dict[str, dict[date, list[int]]]:
    """Per lender group and month end, the scores snapshotted then."""
    scores: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    for group, period, score in sim.rows(
        "SELECT lender_group, period_end, score FROM feature_snapshots WHERE period_end <= ?",
        sim.last.isoformat(),
    ):
        scores[group][date.fromisoformat(period)].append(score)
    return scores


def test_score_bands_at_the_last_month_end(sim: Simulated) -> None:
    scores = snapshot_scores(sim)
    last = max(period for periods in scores.values() for period in periods)
    expected = Counter(
        (group, score // 25 * 25)
        for group, periods in scores.items()
        for score in periods.get(last, [])
    )
    report = {
        (r["lender_group"], r["band"]): r["borrowers"]
        for r in frame_rows(measures.score_bands(sim.book))
    }
    assert report == dict(expected)


def test_score_drift_is_psi_against_the_first_month_end(sim: Simulated) -> None:
    cuts = list(range(400, 950, 50))
    expected = {}
    for group, periods in snapshot_scores(sim).items():
        base = periods[min(periods)]
        for period, scores in periods.items():
            expected[(group, period)] = (
                len(scores),
                statistics.fmean(scores),
                psi(base, scores, cuts),
            )
    report = frame_rows(measures.score_drift(sim.book))
    assert {(r["lender_group"], r["period_end"]) for r in report} == set(expected)
    for row in report:
        count, mean, drift = expected[(row["lender_group"], row["period_end"])]
        assert row["borrowers"] == count
        assert row["mean_score"] == pytest.approx(mean, rel=1e-12)
        assert row["psi"] == pytest.approx(drift, rel=1e-12)
    assert any(drift > 0 for _, _, drift in expected.values())

    last = max(period for _, period in expected)
    at_last = sorted((g, v) for (g, p), v in expected.items() if p == last)
    reading = sim.section("scores")
    means = ", ".join(f"{group} {mean:.0f}" for group, (_, mean, _) in at_last)
    assert f"At {last} the mean score was {means};" in reading
    moved, (_, _, most) = max(at_last, key=lambda item: item[1][2])
    assert f"{moved}'s view moved most since the first month end (PSI {most:.2f}" in reading


def test_model_quality_by_pairwise_auc_and_ks(sim: Simulated) -> None:
    by_group: dict[str, list[Observation]] = defaultdict(list)
    for seen in observations(sim):
        by_group[seen.lender_group].append(seen)
    report = {r["lender_group"]: r for r in frame_rows(measures.model_quality(sim.book))}
    assert set(report) == set(by_group)
    rated = []
    for group, seen in sorted(by_group.items()):
        bads = [o.score for o in seen if o.bad]
        goods = [o.score for o in seen if not o.bad]
        row = report[group]
        assert (row["observations"], row["bads"]) == (len(seen), len(bads)), group
        if bads and goods:
            auc, ks = auc_pairwise(bads, goods), ks_statistic(bads, goods)
            assert row["auc"] == pytest.approx(auc, rel=1e-12), group
            assert row["ks"] == pytest.approx(ks, rel=1e-12), group
            rated.append((group, auc, ks, len(bads), len(seen)))
        else:
            assert row["auc"] is None and row["ks"] is None, group
    assert rated
    reading = sim.section("model")
    for group, auc, ks, _, _ in rated:
        assert f"{group} AUC {auc:.2f} / KS {ks:.2f}" in reading
    _, _, _, bads, seen_count = rated[0]
    assert f"({bads} late of {seen_count} observations)" in reading


# --- decisions and actions ------------------------------------------------------------------


def test_application_outcomes_and_reading(sim: Simulated) -> None:
    expected = application_counts(sim)
    report = {
        (r["product"], r["outcome"]): r["decisions"]
        for r in frame_rows(measures.application_outcomes(sim.book))
    }
    assert report == dict(expected)
    total = sum(expected.values())
    by_outcome: Counter[str] = Counter()
    for (_, outcome), n in expected.items():
        by_outcome[outcome] += n
    reading = sim.section("decisions")
    assert (
        f"{by_outcome['approved']} of {total} applications were approved "
        f"({percent(by_outcome['approved'] / total)}), {by_outcome['referred']} referred for "
        f"documents and {by_outcome['declined']} declined"
    ) in reading
    (_code, text, count), *_ = top_reasons_of(sim)["application"]
    assert f"“{text}” ({count} times)" in reading


def top_reasons_of(sim: Simulated, limit: int = 6) -> dict[str, list[tuple[str, str, int]]]:
    """Per decision kind, the reason codes given most often by refusing, declining or
    referring decisions: (code, first text given for it, how many decisions)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    first_text: dict[tuple[str, str, str], str] = {}
    for kind, outcome, reasons in sim.rows(
        "SELECT kind, outcome, reasons FROM decisions "
        "WHERE outcome IN ('declined', 'referred', 'refused') AND business_date <= ? "
        "ORDER BY decision_id",
        sim.last.isoformat(),
    ):
        for reason in json.loads(reasons):
            key = (kind, outcome, reason["code"])
            counts[key] += 1
            first_text.setdefault(key, reason["text"])
    ranked = sorted(counts, key=lambda k: (k[0], -counts[k], k[1], k[2]))
    result: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for key in ranked:
        if len(result[key[0]]) < limit:
            result[key[0]].append((key[2], first_text[key], counts[key]))
    return result


def test_top_reasons(sim: Simulated) -> None:
    expected = top_reasons_of(sim)
    report: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for row in frame_rows(measures.top_reasons(sim.book)):
        report[row["kind"]].append((row["code"], row["text"], row["decisions"]))
    assert report == expected
    assert {"application", "authorisation"} <= set(expected)


def test_limit_actions_and_reading(sim: Simulated) -> None:
    actions = review_actions(sim)
    expected = Counter((month_start(day), product, outcome) for day, product, outcome in actions)
    report = {
        (r["month"], r["product"], r["action"]): r["actions"]
        for r in frame_rows(measures.limit_actions(sim.book))
    }
    assert report == dict(expected)
    adverse = sum(1 for _, _, outcome in actions if outcome in ADVERSE)
    kinder = sum(1 for _, _, outcome in actions if outcome in ("restore", "increase"))
    assert adverse + kinder == len(actions), "a review outcome that is neither"
    per_month = Counter(month_start(day) for day, _, _ in actions)
    busiest = min(per_month, key=lambda m: (-per_month[m], m))
    reading = sim.section("limit_actions")
    assert (
        f"The policies took {adverse} actions that reduced, paused, froze or closed a line and "
        f"{kinder} that restored or raised one; the busiest month was {busiest:%B %Y} "
        f"({per_month[busiest]} actions)."
    ) in reading


# --- contagion ------------------------------------------------------------------------------


def test_contagion_episodes(sim: Simulated) -> None:
    expected = [
        {
            "credit_line_id": line_id,
            "overdue_on": start,
            "cured_on": e.cured_on,
            "borrower_id": e.line.borrower_id,
            "lender_group": e.line.lender_group,
            "product": e.line.product,
            "peak_bucket": e.peak,
        }
        for (line_id, start), e in sorted(episodes(sim).items())
    ]
    report = frame_rows(report_contagion.episodes(sim.book))
    assert [{k: row[k] for k in expected[0]} for row in report] == expected
    assert any(row["peak_bucket"] != "M1" for row in expected)
    assert any(row["cured_on"] is not None for row in expected)


def test_contagion_pairs(sim: Simulated) -> None:
    expected = expected_pairs(sim)
    report = frame_rows(report_contagion.pairs(sim.book))
    assert report == expected
    acted = [p for p in expected if p["action"] is not None]
    assert {p["other_group"] for p in acted if not p["same_group"]} >= {"webank"}


def test_contagion_summary(sim: Simulated) -> None:
    groups: dict[tuple[str, str, bool, bool], list[dict[str, Any]]] = defaultdict(list)
    for pair in expected_pairs(sim):
        key = (pair["source_product"], pair["other_product"], pair["same_group"], pair["past_30"])
        groups[key].append(pair)
    report = frame_rows(report_contagion.summary(report_contagion.pairs(sim.book)))
    assert len(report) == len(groups)
    for row in report:
        held = groups[
            (row["source_product"], row["other_product"], row["same_group"], row["past_30"])
        ]
        waited = [p["days"] for p in held if p["action"] is not None]
        assert (row["held"], row["acted"]) == (len(held), len(waited))
        assert row["share"] == pytest.approx(len(waited) / len(held), rel=1e-12)
        assert row["median_days"] == (statistics.median(waited) if waited else None)
        assert row["fastest_days"] == (min(waited) if waited else None)


def base_rate_of(sim: Simulated) -> tuple[int, int]:
    """Lines of borrowers never late on any line, and how many of them lost credit."""
    lines = lines_of(sim)
    late = {
        lines[line].borrower_id
        for (line,) in sim.rows(
            "SELECT credit_line_id FROM outbox WHERE type = 'overdue_started' "
            "AND business_date <= ?",
            sim.last.isoformat(),
        )
    }
    acted = {e.credit_line_id for e in limit_events(sim, sim.last) if e.action in ADVERSE}
    clean = [line for line in lines.values() if line.borrower_id not in late]
    return len(clean), sum(1 for line in clean if line.credit_line_id in acted)


def test_contagion_base_rate(sim: Simulated) -> None:
    clean, acted = base_rate_of(sim)
    (row,) = frame_rows(report_contagion.base_rate(sim.book))
    assert (row["lines"], row["acted"]) == (clean, acted)
    assert row["share"] == pytest.approx(acted / clean, rel=1e-12)


def median_days(waited: list[int]) -> str:
    middle = statistics.median(waited)
    return f"{middle:.0f} day" + ("" if round(middle) == 1 else "s")


def test_contagion_reading(sim: Simulated) -> None:
    pairs = expected_pairs(sim)
    reading = sim.section("contagion")
    for same, where in ((True, "in the same lender group"), (False, "with other lender groups")):
        held = [p for p in pairs if p["same_group"] == same]
        acted = [p for p in held if p["action"] is not None]
        assert f"lines {where} lost credit in {len(acted)} of {len(held)} cases" in reading
        if acted:
            assert (
                f"{len(held)} cases, a median of {median_days([p['days'] for p in acted])} after"
            ) in reading
    clean, acted_clean = base_rate_of(sim)
    assert f"lost credit {acted_clean} times in {clean} ({percent(acted_clean / clean)})" in (
        reading
    )
    seeds = [
        p for p in pairs if (p["source_product"], p["other_product"]) == ("huabei", "weilidai")
    ]
    assert seeds, "no borrower late on Huabei held Weilidai"
    cut = [p for p in seeds if p["action"] is not None]
    deep = sum(1 for p in seeds if p["past_30"])
    borrowers = len({p["borrower_id"] for p in seeds})
    spells = f"{len(seeds)} overdue spell" + ("" if len(seeds) == 1 else "s")
    people = f"{borrowers} borrower" + ("" if borrowers == 1 else "s")
    assert (
        f"Late on Huabei while holding Weilidai: {spells} of {people}, {deep} of them past "
        f"30 days; Weilidai was cut after {len(cut)}"
    ) in reading
    if cut:
        first = min(cut, key=lambda p: (p["acted_on"], p["borrower_id"]))
        past = {"reduce": "reduced", "pause": "paused", "freeze": "frozen", "close": "closed"}
        assert (
            f"(first: {first['borrower_id']}, late on Huabei from {first['overdue_on']}, "
            f"Weilidai {past[first['action']]} on {first['acted_on']}: “{first['reason']}”)"
        ) in reading


# --- bureau ---------------------------------------------------------------------------------


def bureau_counts(sim: Simulated) -> Counter[tuple[date, str]]:
    """Per month: notices, accounts reported, negative records, inquiries by reason and
    disputes filed, answered and overdue — each counted in the month it happened."""
    last = sim.last.isoformat()
    counts: Counter[tuple[date, str]] = Counter()

    def add(what: str, sql: str) -> None:
        for (day,) in sim.rows(sql, last):
            counts[(month_start(date.fromisoformat(day)), what)] += 1

    add(
        "notices",
        "SELECT business_date FROM notifications "
        "WHERE kind = 'pre_report_notice' AND business_date <= ?",
    )
    add("accounts reported", "SELECT period_end FROM bureau_records WHERE period_end <= ?")
    negative = ", ".join(f"'{s}'" for s in NEGATIVE_STATUSES)
    add(
        "negative records",
        f"SELECT period_end FROM bureau_records WHERE period_end <= ? AND status IN ({negative})",
    )
    for day, reason in sim.rows(
        "SELECT inquired_on, reason FROM bureau_inquiries WHERE inquired_on <= ?", last
    ):
        counts[(month_start(date.fromisoformat(day)), f"inquiries: {reason}")] += 1
    for filed, resolved, alerted in sim.rows(
        "SELECT filed_on, resolved_on, alerted_on FROM bureau_disputes WHERE filed_on <= ?", last
    ):
        for day, what in (
            (filed, "disputes filed"),
            (resolved, "disputes answered"),
            (alerted, "disputes overdue"),
        ):
            if day is not None and day <= last:
                counts[(month_start(date.fromisoformat(day)), what)] += 1
    return counts


def test_bureau_activity_and_reading(sim: Simulated) -> None:
    expected = bureau_counts(sim)
    report = {
        (r["month"], r["what"]): r["count"] for r in frame_rows(measures.bureau_activity(sim.book))
    }
    assert report == dict(expected)
    totals: Counter[str] = Counter()
    for (_, what), n in expected.items():
        totals[what] += n
    assert totals["negative records"] > 0 and totals["notices"] > 0
    assert (
        f"The providers sent {totals['notices']} pre-report notices and reported "
        f"{totals['accounts reported']} account-months, {totals['negative records']} of them "
        f"negative; borrowers filed {totals['disputes filed']} disputes, "
        f"{totals['disputes answered']} were answered and {totals['disputes overdue']} ran past"
    ) in sim.section("bureau")


# --- key figures ----------------------------------------------------------------------------


def test_key_figures(sim: Simulated) -> None:
    figures = dict(sim.report.figures)
    lines = Counter(line.product for line in lines_of(sim).values())
    borrowers, _, ever_90 = ever_late(sim)
    applications = application_counts(sim)
    applied = sum(applications.values())
    approved = sum(n for (_, outcome), n in applications.items() if outcome == "approved")
    last_end = month_end_rows(sim)[max(month_end_rows(sim))]
    adverse = sum(1 for _, _, outcome in review_actions(sim) if outcome in ADVERSE)
    assert figures == {
        "business days": f"{sim.first} to {sim.last}",
        "borrowers with a line": str(borrowers),
        "lines": ", ".join(f"{product_name(p)} {lines[p]}" for p in sorted(lines)),
        "receivables at the last close": yuan(sum(balance_on(sim, sim.last).values())),
        "applications approved": f"{approved} of {applied} ({percent(approved / applied)})",
        "balance 30+ / 90+ DPD at the last month end": (
            f"{percent(last_end['dpd30_share'])} / {percent(last_end['dpd90_share'])}"
        ),
        "borrowers ever 90+ days late": f"{ever_90} ({percent(ever_90 / borrowers)})",
        "lines reduced, paused, frozen or closed": str(adverse),
    }
    assert sim.book.first_day == sim.first and sim.book.last_day == sim.last


# --- the page -------------------------------------------------------------------------------


def test_the_page_is_self_contained_with_one_chart_per_section(sim: Simulated) -> None:
    page = sim.report.html()
    assert "<script src=" not in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert page.count(plotly.offline.get_plotlyjs()) == 1
    assert [s.key for s in sim.report.sections] == list(SECTION_KEYS)
    for key in SECTION_KEYS:
        assert page.count(f'id="chart-{key}"') == 1, key
    assert page.count('class="plotly-graph-div"') == len(SECTION_KEYS)


def test_the_page_renders_in_chromium_without_errors(sim: Simulated, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"the browser test needs Chromium at {CHROMIUM} (make test)"
    page_file = tmp_path / "report.html"
    page_file.write_text(sim.report.html(), encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri(), wait_until="load")
            charts = len(SECTION_KEYS)
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}",
                timeout=30_000,
            )
            assert page.locator(".js-plotly-plot").count() == charts
            for key in SECTION_KEYS:
                assert page.locator(f"#chart-{key} .main-svg").count() >= 1, key
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000


def test_a_book_draws_the_same_limit_actions_chart_every_time(sim: Simulated) -> None:
    """The same book must give the same page. The limit-actions chart sorted its monthly
    counts by month only, so actions taken in the same month came in hash order: built
    again, the same book drew (and coloured) its actions in another order. The book here
    is the simulated one with its reviews replaced by a month of three kinds of action."""
    actions = ["pause", "restore", "freeze", "pause", "restore", "close"]
    reviews = pl.DataFrame(
        {
            "decision_id": range(1, len(actions) + 1),
            "business_date": [date(2026, 1, 5 + n) for n in range(len(actions))],
            "borrower_id": [f"b{n}" for n in range(len(actions))],
            "lender_group": ["ant"] * len(actions),
            "product": ["huabei", "jiebei"] * (len(actions) // 2),
            "credit_line_id": range(1, len(actions) + 1),
            "kind": ["review"] * len(actions),
            "outcome": actions,
            "reasons": ["[]"] * len(actions),
        },
        schema=sim.book.decisions.schema,
    )
    book = dataclasses.replace(sim.book, decisions=reviews)
    drawn = {limit_actions_section(book).figure.to_json() for _ in range(20)}
    assert len(drawn) == 1


# --- the command ----------------------------------------------------------------------------


def sqlite_dump(path: Path) -> list[str]:
    """Every statement that would rebuild the database: equal dumps, unchanged database."""
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


def test_report_command_writes_the_page(sim: Simulated, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "report.html"
    before = sqlite_dump(sim.path)
    done = CliRunner().invoke(app, ["report", "--database", sim.url, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text(encoding="utf-8") == sim.report.html()
    assert f"report written to {out}" in done.output
    for _, value in sim.report.figures:
        assert value in done.output
    assert sqlite_dump(sim.path) == before


def _uninitialised(path: Path) -> None:
    """Migrated, with no platform row."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()


def _empty(path: Path) -> None:
    """An SQLite file with no tables."""
    sqlite3.connect(path).close()


@pytest.mark.parametrize("prepare", [_empty, _uninitialised], ids=["empty", "uninitialised"])
def test_report_command_refuses_a_database_without_a_book(prepare: Any, tmp_path: Path) -> None:
    path = tmp_path / "nothing.db"
    prepare(path)
    before = sqlite_dump(path)
    out = tmp_path / "report.html"
    done = CliRunner().invoke(app, ["report", "--database", f"sqlite:///{path}", "--out", str(out)])
    assert done.exit_code == 2, done.output
    assert "database:" in done.output
    assert not out.exists()
    assert sqlite_dump(path) == before


def test_report_command_refuses_a_book_with_no_closed_day(tmp_path: Path) -> None:
    path = tmp_path / "open.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=START, catalog_json=catalog_to_json(load_catalog("default"))
        )
    with engine.connect() as conn, pytest.raises(EmptyBookError) as raised:
        build_report(conn)
    engine.dispose()
    message = str(raised.value)
    assert message.startswith("database:")
    before = sqlite_dump(path)
    out = tmp_path / "report.html"
    done = CliRunner().invoke(app, ["report", "--database", f"sqlite:///{path}", "--out", str(out)])
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split())
    assert not out.exists()
    assert sqlite_dump(path) == before


@pytest.mark.parametrize("command", [["report"], ["ledger", "check"]])
def test_reading_commands_refuse_a_missing_database_without_creating_it(
    command: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "missing.db"
    done = CliRunner().invoke(
        app, [*command, "--database", f"sqlite:///{path}"], env={"COLUMNS": "200"}
    )
    assert done.exit_code == 2, done.output
    # Rich wraps a long path anywhere; the message is whole once whitespace is dropped.
    assert f"database:nodatabaseat{path}" in "".join(done.output.split())
    assert list(tmp_path.iterdir()) == []
