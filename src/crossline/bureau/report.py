"""The personal credit report: what the bureau shows about a borrower on a date.

The records shown are those reported before the date and still inside their
retention (DOMAIN §3); each carries its dispute flag and the borrower's
statements. The same rows feed the scenario STATE, the printed report and,
through ``visible``, every other group's view.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.calendar import add_months, last_day_of_month
from crossline.kernels.bureau import RETENTION_MONTHS, is_negative, visible
from crossline.store.bulk import read_frame
from crossline.store.schema import (
    bureau_disputes,
    bureau_explanations,
    bureau_inquiries,
    bureau_records,
)

GRID_MONTHS = 24
INQUIRY_MONTHS = 24

RECORD_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "credit_line_id": pl.Int64(),
        "provider": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "opened_on": pl.Date(),
        "period_end": pl.Date(),
        "status": pl.String(),
        "balance_fen": pl.Int64(),
        "limit_fen": pl.Int64(),
        "overdue_fen": pl.Int64(),
        "reported_on": pl.Date(),
        "delinquency_ended_on": pl.Date(),
        "dispute_outcome": pl.String(),
        "disputed_on": pl.Date(),
    }
)


def records(conn: sa.Connection, where: sa.ColumnElement[bool], as_of: date) -> pl.DataFrame:
    """Records matching ``where`` reported before ``as_of``, with ``visible`` and ``disputed``.

    A record is disputed while its latest dispute is open, and for good when
    the check could not verify it (both are shown).
    """
    r = bureau_records.c
    d = bureau_disputes.c
    earlier = bureau_disputes.alias("earlier")
    latest = (
        sa.select(sa.func.max(earlier.c.dispute_id))
        .where(earlier.c.credit_line_id == r.credit_line_id, earlier.c.period_end == r.period_end)
        .correlate(bureau_records)
        .scalar_subquery()
    )
    statement = (
        sa.select(
            *(r[name] for name in list(RECORD_SCHEMA)[:13]),
            d.outcome,
            d.filed_on,
        )
        .select_from(bureau_records.outerjoin(bureau_disputes, d.dispute_id == latest))
        .where(where, r.reported_on < as_of)
        .order_by(r.borrower_id, r.credit_line_id, r.period_end)
    )
    frame = read_frame(conn, statement, RECORD_SCHEMA)
    return frame.with_columns(
        visible(as_of).alias("visible"),
        (
            pl.col("disputed_on").is_not_null()
            & (pl.col("dispute_outcome").is_null() | (pl.col("dispute_outcome") == "unverifiable"))
        ).alias("disputed"),
    )


def grid_months(as_of: date) -> list[date]:
    """The month ends of the 24-month grid, oldest first, ending with the last one reported."""
    last = add_months(as_of.replace(day=1), -1)
    firsts = [add_months(last, -offset) for offset in range(GRID_MONTHS - 1, -1, -1)]
    return [m.replace(day=last_day_of_month(m.year, m.month)) for m in firsts]


@dataclass(frozen=True, slots=True)
class CreditReport:
    """A borrower's report as plain data: accounts with their grids, inquiries, disputes."""

    borrower_id: str
    as_of: date
    accounts: list[dict[str, Any]]
    inquiries: list[dict[str, Any]]
    disputes: list[dict[str, Any]]
    hidden_records: int
    negatives: list[dict[str, Any]]


def _accounts(shown: pl.DataFrame, months: list[date], notes: dict[Any, list[str]]) -> list[Any]:
    accounts = []
    for (line_id,), rows in shown.group_by(["credit_line_id"], maintain_order=True):
        by_month = {row["period_end"]: row for row in rows.iter_rows(named=True)}
        latest = rows.row(-1, named=True)
        accounts.append(
            {
                "product": latest["product"],
                "provider": latest["provider"],
                "group": latest["lender_group"],
                "opened_on": latest["opened_on"],
                "latest": latest,
                "grid": [by_month[m]["status"] if m in by_month else "-" for m in months],
                "disputed_months": [
                    f"{m:%Y-%m}" for m in months if m in by_month and by_month[m]["disputed"]
                ],
                "statements": notes.get(line_id, []),
            }
        )
    return accounts


def credit_report(conn: sa.Connection, borrower_id: str, as_of: date) -> CreditReport:
    """The report as the bureau would show it on ``as_of``."""
    every = records(conn, bureau_records.c.borrower_id == borrower_id, as_of)
    shown = every.filter(pl.col("visible"))
    e = bureau_explanations.c
    notes: dict[Any, list[str]] = defaultdict(list)
    for row in conn.execute(
        sa.select(e.credit_line_id, e.period_end, e.text)
        .where(e.borrower_id == borrower_id)
        .order_by(e.explanation_id)
    ):
        notes[row.credit_line_id].append(f"{row.period_end:%Y-%m}: {row.text}")
    q = bureau_inquiries.c
    inquiries = [
        dict(row._mapping)
        for row in conn.execute(
            sa.select(q.inquired_on, q.inquirer, q.reason, q.charged)
            .where(
                q.borrower_id == borrower_id,
                q.inquired_on >= add_months(as_of, -INQUIRY_MONTHS),
                q.inquired_on <= as_of,
            )
            .order_by(q.inquired_on.desc(), q.inquiry_id.desc())
        )
    ]
    d = bureau_disputes.c
    disputes = [
        dict(row._mapping)
        for row in conn.execute(
            sa.select(
                d.product, d.period_end, d.claim, d.filed_on, d.due_on, d.outcome, d.resolved_on
            )
            .where(d.borrower_id == borrower_id)
            .order_by(d.dispute_id)
        )
    ]
    negatives = [
        {
            "product": row["product"],
            "month": row["period_end"],
            "status": row["status"],
            "shown_until": None
            if row["delinquency_ended_on"] is None
            else add_months(row["delinquency_ended_on"], RETENTION_MONTHS) - timedelta(days=1),
        }
        for row in shown.filter(is_negative(pl.col("status"))).iter_rows(named=True)
    ]
    return CreditReport(
        borrower_id=borrower_id,
        negatives=negatives,
        as_of=as_of,
        accounts=_accounts(shown, grid_months(as_of), notes),
        inquiries=inquiries,
        disputes=disputes,
        hidden_records=every.height - shown.height,
    )
