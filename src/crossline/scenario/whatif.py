"""What-if: a borrower's next days under hypothetical events, projected by the real engine.

"If I pay this Huabei bill 40 days late, will Weilidai still lend to me?" The
answer comes from the platform itself, not from a model of it: the
borrower's rows (every table carries ``borrower_id``, DESIGN §4) and the
platform's shared rows (business date, catalog, policies, id counters) are
copied into a scratch SQLite database, and the hypothetical steps run there
day by day through the same services, end-of-day, bureau reporting, scoring
and account management as production. Nothing in the real book changes,
whatever the source database is.

The result lists, day by day, each group's score and every line's status,
limit and DPD, and — the part a borrower reads — every change with its date:
a score moving in a group's view, a line paused, reduced or restored (with
the policy's reason), a month reported to the bureau, and the outcome of any
hypothetical application.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crossline.bureau.report import records
from crossline.eod.runner import Progress
from crossline.money import format_fen
from crossline.scenario.spec import Step
from crossline.store import platform
from crossline.store.engine import make_engine, upgrade
from crossline.store.schema import (
    bureau_records,
    credit_lines,
    current_scores,
    decisions,
    id_counters,
    metadata,
    policies,
)
from crossline.store.schema import platform as platform_table

DayRunner = Callable[
    [sa.Engine, date, date, list[Step], Progress | None, Callable[[date], None] | None],
    tuple[list[dict[str, Any]], dict[str, Any]],
]
"""The scenario runner's day loop (``runner.run_days``), passed in by the caller."""

SHARED = (platform_table, id_counters, policies)
"""Tables without a borrower that a projection needs whole."""


def copy_borrower(source: sa.Connection, target: sa.Engine, borrower_id: str) -> None:
    """A migrated ``target`` holding the shared rows and every row of one borrower."""
    upgrade(target)
    with target.begin() as out:
        for table in metadata.sorted_tables:
            if "borrower_id" in table.c:
                query = sa.select(table).where(table.c.borrower_id == borrower_id)
            elif table in SHARED:
                query = sa.select(table)
            else:
                continue
            rows = [dict(row) for row in source.execute(query).mappings()]
            if rows:
                out.execute(sa.insert(table), rows)
        # One borrower needs one partition: the close then skips no empty ones.
        out.execute(sa.update(platform_table).values(partitions=1))


def _view(conn: sa.Connection, borrower_id: str, morning: date) -> dict[str, Any]:
    """The borrower as each group sees them on ``morning``: scores, lines, reported months."""
    s, c = current_scores.c, credit_lines.c
    scores = {
        row.lender_group: row.score
        for row in conn.execute(
            sa.select(s.lender_group, s.score).where(s.borrower_id == borrower_id)
        )
    }
    lines = {
        row.product: {"status": row.status, "limit": format_fen(row.limit_fen), "dpd": row.dpd}
        for row in conn.execute(
            sa.select(c.product, c.status, c.limit_fen, c.dpd).where(c.borrower_id == borrower_id)
        )
    }
    reported = records(conn, bureau_records.c.borrower_id == borrower_id, morning)
    bureau = {
        f"{row['product']} {row['period_end']:%Y-%m}": row["status"]
        for row in reported.iter_rows(named=True)
        if row["visible"]
    }
    return {"date": morning.isoformat(), "scores": scores, "lines": lines, "bureau": bureau}


def _reasons(conn: sa.Connection, borrower_id: str, day: date) -> dict[str, str]:
    """The reason of each line's latest account-management action of business day ``day``:
    taken during the day by an event handler (dated ``day``) or at its close (dated the
    next morning, when it takes effect)."""
    d = decisions.c
    found = {}
    for row in conn.execute(
        sa.select(d.product, d.reasons)
        .where(
            d.borrower_id == borrower_id,
            d.kind == "review",
            d.business_date.between(day, day + timedelta(days=1)),
        )
        .order_by(d.decision_id)
    ):
        reasons = json.loads(row.reasons)
        if reasons:
            found[row.product] = reasons[0]["text"]
    return found


def _changes(
    before: dict[str, Any], after: dict[str, Any], reasons: dict[str, str]
) -> list[dict[str, Any]]:
    day = after["date"]
    changes: list[dict[str, Any]] = []
    for group, score in sorted(after["scores"].items()):
        old = before["scores"].get(group)
        if old != score:
            changes.append({"date": day, "what": "score", "group": group, "from": old, "to": score})
    for product, line in sorted(after["lines"].items()):
        old_line = before["lines"].get(product)
        if old_line is None or (old_line["status"], old_line["limit"]) != (
            line["status"],
            line["limit"],
        ):
            change = {"date": day, "what": "line", "product": product}
            change |= {"status": line["status"], "limit": line["limit"]}
            if old_line is not None:
                change |= {"was": {"status": old_line["status"], "limit": old_line["limit"]}}
            if product in reasons:
                change["reason"] = reasons[product]
            changes.append(change)
    for month, status in sorted(after["bureau"].items()):
        if before["bureau"].get(month) != status:
            product, period = month.split(" ")
            changes.append(
                {
                    "date": day,
                    "what": "reported",
                    "product": product,
                    "month": period,
                    "status": status,
                }
            )
    return changes


def project(
    source: sa.Connection, borrower_id: str, days: int, steps: list[Step], run_days: DayRunner
) -> dict[str, Any]:
    """Project ``days`` business days from the source's business date under ``steps``."""
    first = platform.business_date(source)
    last = first + timedelta(days=days - 1)
    with tempfile.TemporaryDirectory(prefix="crossline-whatif-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'whatif.db'}")
        try:
            copy_borrower(source, engine, borrower_id)
            with engine.connect() as conn:
                start = _view(conn, borrower_id, first)
            daily = [start]
            changes: list[dict[str, Any]] = []

            def after_close(day: date) -> None:
                morning = day + timedelta(days=1)
                with engine.connect() as conn:
                    view = _view(conn, borrower_id, morning)
                    changes.extend(_changes(daily[-1], view, _reasons(conn, borrower_id, day)))
                daily.append(view)

            events, _ = run_days(engine, first, last, steps, None, after_close)
        finally:
            engine.dispose()
    outcomes = [e for e in events if "step" in e]
    return {
        "borrower": borrower_id,
        "from": first.isoformat(),
        "to": (last + timedelta(days=1)).isoformat(),
        "steps": outcomes,
        "changes": changes,
        "daily": daily,
    }
