"""STATE: the borrower-by-borrower picture a scenario snapshot prints.

Built from the state tables (which ``ledger check`` proves equal to the
journal); money as strings with two decimals.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.bureau.report import records
from crossline.collections.views import collections_views
from crossline.money import format_fen
from crossline.servicing.early_warning import everyone, warnings
from crossline.store.schema import (
    bureau_records,
    credit_lines,
    current_scores,
    installments,
    loans,
    notifications,
    plans,
    statements,
)

_COMPONENTS = ("principal", "interest", "fee", "penalty")


def _row_status(row: Any, kind: str, today: date) -> str:
    """Installments: scheduled / due / overdue. A revolving row is the open ``cycle``, a
    ``billed`` statement not yet due, or ``carried`` past its due date (whether that is
    late is the line's delinquency, decided by the statement's minimum)."""
    if row.status != "open":
        return str(row.status)
    if kind == "revolving":
        if row.billed_on is None:
            return "cycle"
        return "billed" if row.due_date >= today else "carried"
    if row.due_date > today:
        return "scheduled"
    return "due" if row.due_date == today else "overdue"


def _owed(row: Any) -> dict[str, int]:
    if row.status == "written_off":
        return dict.fromkeys(_COMPONENTS, 0)
    return {
        "principal": row.principal_fen - row.paid_principal_fen,
        "interest": row.interest_recognised_fen - row.paid_interest_fen,
        "fee": row.fee_recognised_fen - row.paid_fee_fen,
        "penalty": row.penalty_fen - row.paid_penalty_fen,
    }


def _schedule_entry(row: Any, kind: str, today: date) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "due_date": row.due_date.isoformat(),
        "principal": format_fen(row.principal_fen),
        "interest": format_fen(row.interest_fen),
        "fee": format_fen(row.fee_fen),
        "penalty": format_fen(row.penalty_fen),
        "paid": {c: format_fen(getattr(row, f"paid_{c}_fen")) for c in _COMPONENTS},
        "status": _row_status(row, kind, today),
    }


def _whose(borrower_id: str | None) -> Callable[[sa.Table], sa.ColumnElement[bool]]:
    """Every row, or one borrower's, of a table with a ``borrower_id``."""

    def whose(table: sa.Table) -> sa.ColumnElement[bool]:
        return sa.true() if borrower_id is None else table.c.borrower_id == borrower_id

    return whose


def line_views(
    conn: sa.Connection, today: date, borrower_id: str | None = None
) -> dict[str, dict[str, Any]]:
    """Each borrower's lines as STATE shows them (borrower -> product -> view): status,
    limit and what is available, how late, what is owed, the loans with their schedules
    and the statements. The API's lines endpoint reads one borrower's."""
    whose = _whose(borrower_id)
    # Installments are reached through the borrower's loans, which are indexed by borrower.
    their_loans = sa.select(loans.c.loan_id).where(whose(loans))
    rows_by_loan: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(
        sa.select(installments)
        .where(sa.true() if borrower_id is None else installments.c.loan_id.in_(their_loans))
        .order_by(installments.c.loan_id, installments.c.seq)
    ):
        rows_by_loan[row.loan_id].append(row)
    loans_by_line: dict[int, list[Any]] = defaultdict(list)
    for loan in conn.execute(sa.select(loans).where(whose(loans)).order_by(loans.c.loan_id)):
        loans_by_line[loan.credit_line_id].append(loan)
    statements_by_line: dict[int, list[Any]] = defaultdict(list)
    for statement in conn.execute(
        sa.select(statements).where(whose(statements)).order_by(statements.c.statement_date)
    ):
        statements_by_line[statement.credit_line_id].append(statement)
    plan_by_line = {
        plan.credit_line_id: plan
        for plan in conn.execute(
            sa.select(plans)
            .where(whose(plans), plans.c.status != "superseded")
            .order_by(plans.c.plan_id)
        )
    }
    views: dict[str, dict[str, Any]] = defaultdict(dict)
    for line in conn.execute(
        sa.select(credit_lines).where(whose(credit_lines)).order_by(credit_lines.c.credit_line_id)
    ):
        owed = dict.fromkeys(_COMPONENTS, 0)
        loan_views = []
        for loan in loans_by_line[line.credit_line_id]:
            for row in rows_by_loan[loan.loan_id]:
                for component, amount in _owed(row).items():
                    owed[component] += amount
            loan_views.append(
                {
                    "id": loan.loan_id,
                    "kind": loan.kind,
                    "status": loan.status,
                    "principal": format_fen(loan.principal_fen),
                    "apr": loan.apr,
                    "opened_on": loan.opened_on.isoformat(),
                    "dpd": loan.dpd,
                    "schedule": [
                        _schedule_entry(r, loan.kind, today) for r in rows_by_loan[loan.loan_id]
                    ],
                }
            )
        used = owed["principal"]
        view = views[line.borrower_id][line.product] = {
            "limit": format_fen(line.limit_fen),
            "available": format_fen(max(0, line.limit_fen - used)),
            "status": line.status,
            "dpd": line.dpd,
            "bucket": line.bucket,
            "classification": line.classification,
            "pboc_status": line.pboc_status,
            "outstanding": {
                "principal": format_fen(owed["principal"]),
                "interest": format_fen(owed["interest"]),
                "penalty": format_fen(owed["penalty"]),
                "fees": format_fen(owed["fee"]),
            },
            "credit_balance": format_fen(
                sum(loan.credit_fen for loan in loans_by_line[line.credit_line_id])
            ),
            "loans": loan_views,
            "statements": [
                {
                    "date": s.statement_date.isoformat(),
                    "due_date": s.due_date.isoformat(),
                    "balance": format_fen(s.balance_fen),
                    "minimum_payment": format_fen(s.minimum_fen),
                }
                for s in statements_by_line[line.credit_line_id]
            ],
        }
        plan = plan_by_line.get(line.credit_line_id)
        if plan is not None:
            view["plan"] = _plan_view(plan, rows_by_loan.get(plan.plan_loan_id, []))
    return dict(views)


def _plan_view(plan: Any, rows: list[Any]) -> dict[str, Any]:
    """A line's latest plan: its status and terms, and what its loan still owes."""
    remaining = sum(sum(_owed(r).values()) for r in rows)
    return {
        "status": plan.status,
        "months": plan.months,
        "offered_on": plan.offered_on.isoformat(),
        "started_on": None if plan.started_on is None else plan.started_on.isoformat(),
        "ended_on": None if plan.ended_on is None else plan.ended_on.isoformat(),
        "delinquent_since": plan.delinquent_since.isoformat(),
        "total": format_fen(
            plan.principal_fen + plan.interest_fen + plan.fee_fen + plan.penalty_fen
        ),
        "apr": plan.apr,
        "installments_paid": sum(1 for r in rows if r.status == "paid"),
        "remaining": format_fen(remaining),
    }


def snapshot(conn: sa.Connection, today: date, borrower_id: str | None = None) -> dict[str, Any]:
    """The whole book as STATE, or one borrower's part of it."""
    whose = _whose(borrower_id)
    borrowers: dict[str, Any] = {
        borrower: {"lines": lines}
        for borrower, lines in line_views(conn, today, borrower_id).items()
    }
    for record in records(conn, whose(bureau_records), today).iter_rows(named=True):
        borrowers.setdefault(record["borrower_id"], {"lines": {}}).setdefault("bureau", []).append(
            {
                "provider": record["provider"],
                "product": record["product"],
                "month": f"{record['period_end']:%Y-%m}",
                "status": record["status"],
                "balance": format_fen(record["balance_fen"]),
                "overdue": format_fen(record["overdue_fen"]),
                "disputed": record["disputed"],
                "visible": record["visible"],
            }
        )
    for score in conn.execute(
        sa.select(current_scores)
        .where(whose(current_scores))
        .order_by(current_scores.c.borrower_id, current_scores.c.lender_group)
    ):
        borrowers.setdefault(score.borrower_id, {"lines": {}}).setdefault("scores", {})[
            score.lender_group
        ] = {"score": score.score, "band": score.band, "reasons": json.loads(score.reasons)}
    for borrower_id, view in collections_views(conn, whose).items():
        borrowers.setdefault(borrower_id, {"lines": {}})["collections"] = view
    scope = everyone if borrower_id is None else _whose(borrower_id)
    for warning in warnings(conn, scope, today).iter_rows(named=True):
        if warning["borrower_id"] in borrowers:
            borrowers[warning["borrower_id"]]["early_warning"] = {
                "level": warning["level"],
                "signals": warning["signals"],
            }
    for notice in conn.execute(
        sa.select(notifications.c.borrower_id, notifications.c.business_date)
        .add_columns(notifications.c.kind, notifications.c.product)
        .where(whose(notifications))
        .order_by(notifications.c.business_date, notifications.c.notification_id)
    ):
        borrowers.setdefault(notice.borrower_id, {"lines": {}}).setdefault(
            "notifications", []
        ).append(
            {
                "date": notice.business_date.isoformat(),
                "kind": notice.kind,
                "product": notice.product,
            }
        )
    return {"business_date": today.isoformat(), "borrowers": borrowers}
