"""Requesting and accepting a personalised installment plan (个性化分期, DOMAIN §5).

A request on an overdue line stores an offer (the carried balance, the schedule, the
APR) valid on the business date it is made; acceptance books it. The plan loan
refinances the line: each old loan's receivables move to it through the clearing
account (one ``plan_transfer`` entry per loan, as a bill conversion moves a
statement), the old rows are closed as settled by the plan and the old loans paid
off, and the borrower is re-aged at once, so the line is current from the start.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.catalog.apr import format_percent
from crossline.events.notifications import Notice, notify
from crossline.events.outbox import Event, emit, write_events
from crossline.ledger.accounts import Account
from crossline.ledger.journal import Entry, Leg, post_entries
from crossline.money import format_fen
from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.servicing.lines import Line, catalog_product, get_line, line_entry
from crossline.servicing.origination import LoanTerms, book_loan
from crossline.servicing.plans.terms import (
    MAX_MONTHS,
    MIN_MONTHS,
    Carried,
    PenaltyPolicy,
    broken_penalty_units,
    carried_balance,
    plan_apr,
    plan_schedule,
)
from crossline.servicing.refresh import refresh_borrower
from crossline.servicing.revolving import cycle_of
from crossline.servicing.rows import late_statements_of, open_rows_of
from crossline.servicing.schedules import ScheduledInstallment
from crossline.store.schema import credit_lines, installments, loans, plans

_CARRIED_COLUMNS = ("principal", "interest", "fee", "penalty", "penalty_waived")


def request_plan(ctx: Context, borrower_id: str, product_id: str, months: int) -> dict[str, Any]:
    """Offer a plan over ``months`` for the borrower's overdue line; refused with the rule."""
    _check_months(months)
    line = get_line(ctx, borrower_id, product_id)
    if _plan_of(ctx, line, "active") is not None:
        raise RefusedError(
            "plan_active", f"the {product_id} line already has an active installment plan"
        )
    _require_overdue(ctx, line)
    carried = _carried(ctx, line)
    schedule = plan_schedule(carried.total, months, ctx.today)
    apr = plan_apr(carried.total, schedule)
    p = plans.c
    ctx.conn.execute(
        sa.update(plans)
        .where(p.credit_line_id == line.credit_line_id, p.status == "offered")
        .values(status="superseded")
    )
    plan_id = ctx.conn.execute(
        sa.insert(plans)
        .values(
            borrower_id=line.borrower_id,
            shard=line.shard,
            credit_line_id=line.credit_line_id,
            product=line.product,
            status="offered",
            months=months,
            offered_on=ctx.today,
            delinquent_since=carried.delinquent_since,
            dpd_at_offer=(ctx.today - carried.delinquent_since).days,
            principal_fen=carried.principal,
            interest_fen=carried.interest,
            fee_fen=carried.fee,
            penalty_fen=carried.penalty,
            penalty_waived_fen=carried.penalty_waived,
            apr=apr,
            penalty_rate_units=broken_penalty_units(carried),
            penalty_base=carried.penalty_base,
        )
        .returning(p.plan_id)
    ).scalar_one()
    offer = _offer_view(int(plan_id), months, carried, schedule, apr)
    _notify(ctx, line, "plan_offered", _payload(offer))
    return offer


def accept_plan(ctx: Context, borrower_id: str, product_id: str) -> dict[str, Any] | None:
    """Book the plan offered today on the line; None when no plan offer is pending."""
    line = get_line(ctx, borrower_id, product_id)
    offer = _plan_of(ctx, line, "offered")
    if offer is None:
        return None
    if offer.offered_on != ctx.today:
        raise RefusedError(
            "plan_offer_expired",
            f"the plan offered on {offer.offered_on} was valid that day only; request it again",
        )
    rows = _line_rows(ctx, line)
    carried = _carried(ctx, line, rows)
    now = tuple(getattr(carried, c) for c in _CARRIED_COLUMNS)
    if now != tuple(offer._mapping[f"{c}_fen"] for c in _CARRIED_COLUMNS):
        raise RefusedError(
            "plan_offer_stale", "the line's balance changed since the offer; request it again"
        )
    _close_old_rows(ctx, line, rows, carried)
    schedule = plan_schedule(carried.total, int(offer.months), ctx.today)
    terms = LoanTerms(
        kind="installment",
        method=None,
        term_months=int(offer.months),
        daily_rate_units=None,
        penalty_rate_units=0,
        penalty_base=carried.penalty_base,
        grace_days=catalog_product(ctx, line.product).grace_days,
    )
    loan_id = book_loan(
        ctx,
        line,
        carried.total,
        schedule,
        terms,
        funding=Account.CONVERSION_CLEARING,
        event="plan_transfer",
    )
    ctx.conn.execute(
        sa.update(plans)
        .where(plans.c.plan_id == offer.plan_id)
        .values(status="active", started_on=ctx.today, plan_loan_id=loan_id)
    )
    view = _offer_view(int(offer.plan_id), int(offer.months), carried, schedule, str(offer.apr))
    view |= {"status": "active", "loan_id": loan_id}
    _notify(ctx, line, "plan_started", _payload(view))
    aged = refresh_borrower(ctx, borrower_id)
    emit(ctx.conn, [_event(ctx, line, "plan_started", loan_id, _payload(view))])
    write_events(ctx.conn, aged)
    return view


def _check_months(months: int) -> None:
    if months > MAX_MONTHS:
        raise RefusedError(
            "plan_over_60_months",
            f"months: a personalised installment plan runs at most {MAX_MONTHS} months "
            f"(Art. 70, 2011 credit-card rules), got {months}",
        )
    if months < MIN_MONTHS:
        raise RefusedError(
            "plan_under_2_months",
            f"months: a personalised installment plan runs at least {MIN_MONTHS} months; "
            f"to move one due date, request an extension, got {months}",
        )


def _require_overdue(ctx: Context, line: Line) -> None:
    c = credit_lines.c
    dpd, written_off_on = ctx.conn.execute(
        sa.select(c.dpd, c.written_off_on).where(c.credit_line_id == line.credit_line_id)
    ).one()
    if written_off_on is not None:
        raise RefusedError(
            "line_written_off", f"the {line.product} line was written off on {written_off_on}"
        )
    if dpd <= 0:
        raise RefusedError(
            "line_not_overdue",
            f"the {line.product} line is not overdue: a personalised installment plan is for "
            "a borrower who cannot pay an overdue balance (Art. 70); request an extension instead",
        )


def _plan_of(ctx: Context, line: Line, status: str) -> sa.Row[Any] | None:
    p = plans.c
    return ctx.conn.execute(
        sa.select(plans).where(p.credit_line_id == line.credit_line_id, p.status == status)
    ).first()


def _penalty_policy(ctx: Context, line: Line) -> PenaltyPolicy:
    return ctx.catalog.provider_of(line.product).plan_penalty


def _line_rows(ctx: Context, line: Line) -> pl.DataFrame:
    """Every open row of the line's active loans: a revolving line's billed rows and its
    open cycle too, so that its whole balance moves into the plan."""
    return open_rows_of(ctx.conn, loans.c.credit_line_id, line.credit_line_id)


def _carried(ctx: Context, line: Line, rows: pl.DataFrame | None = None) -> Carried:
    since = None
    if line.kind == "revolving":
        late = late_statements_of(ctx.conn, loans.c.credit_line_id, line.credit_line_id, ctx.today)
        since = late.get_column("delinquent_from").min() if not late.is_empty() else None
    return carried_balance(
        _line_rows(ctx, line) if rows is None else rows,
        ctx.today,
        _penalty_policy(ctx, line),
        since,  # type: ignore[arg-type]
    )


def _close_old_rows(ctx: Context, line: Line, rows: pl.DataFrame, carried: Carried) -> None:
    """Move each old loan's receivables to the clearing account (a waived penalty is
    reversed out of income instead), settle its rows and pay the loan off."""
    per_loan = rows.group_by("loan_id").agg(
        (pl.col("principal_fen") - pl.col("paid_principal_fen")).sum().alias("principal"),
        (pl.col("interest_recognised_fen") - pl.col("paid_interest_fen")).sum().alias("interest"),
        (pl.col("fee_recognised_fen") - pl.col("paid_fee_fen")).sum().alias("fee"),
        (pl.col("penalty_fen") - pl.col("paid_penalty_fen")).sum().alias("penalty"),
    )
    waive = carried.penalty_waived > 0
    entries: list[Entry] = []
    for loan in per_loan.sort("loan_id").iter_rows(named=True):
        moved = loan["principal"] + loan["interest"] + loan["fee"]
        penalty_leg = Leg(Account.PENALTY_RECEIVABLE, -loan["penalty"])
        legs = [
            Leg(Account.LOAN_PRINCIPAL, -loan["principal"]),
            Leg(Account.INTEREST_RECEIVABLE, -loan["interest"]),
            Leg(Account.FEE_RECEIVABLE, -loan["fee"]),
        ]
        if waive:
            waiver = (Leg(Account.PENALTY_INCOME, loan["penalty"]), penalty_leg)
            entries.append(line_entry(ctx, line, "plan_penalty_waiver", loan["loan_id"], waiver))
        else:
            moved += loan["penalty"]
            legs.append(penalty_leg)
        transfer = (Leg(Account.CONVERSION_CLEARING, moved), *legs)
        entries.append(line_entry(ctx, line, "plan_transfer", loan["loan_id"], transfer))
    post_entries(ctx.conn, entries)
    i = installments.c
    penalty = {"penalty_fen": i.paid_penalty_fen} if waive else {"paid_penalty_fen": i.penalty_fen}
    old = per_loan["loan_id"].to_list()
    cycle = cycle_of(ctx, line).installment_id if line.kind == "revolving" else None
    ctx.conn.execute(
        sa.update(installments)
        .where(i.loan_id.in_(old), i.status == "open")
        .values(
            interest_fen=i.interest_recognised_fen,
            fee_fen=i.fee_recognised_fen,
            paid_principal_fen=i.principal_fen,
            paid_interest_fen=i.interest_recognised_fen,
            paid_fee_fen=i.fee_recognised_fen,
            shadow_interest_fen=0,
            shadow_penalty_fen=0,
            status=sa.case((i.installment_id == cycle, "open"), else_="paid"),
            paid_on=sa.case((i.installment_id == cycle, None), else_=ctx.today),
            **penalty,
        )
    )
    ctx.conn.execute(
        sa.update(loans)
        .where(loans.c.loan_id.in_(old), loans.c.kind != "revolving")
        .values(status="paid_off", closed_on=ctx.today)
    )


def _offer_view(
    plan_id: int, months: int, carried: Carried, schedule: list[ScheduledInstallment], apr: str
) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "status": "offered",
        "months": months,
        "principal": format_fen(carried.principal),
        "interest": format_fen(carried.interest),
        "fee": format_fen(carried.fee),
        "penalty": format_fen(carried.penalty),
        "penalty_waived": format_fen(carried.penalty_waived),
        "total": format_fen(carried.total),
        "installment": format_fen(schedule[0].amount),
        "last_installment": format_fen(schedule[-1].amount),
        "first_due_date": schedule[0].due_date.isoformat(),
        "apr": format_percent(Decimal(apr)),
        "delinquent_since": carried.delinquent_since.isoformat(),
        "schedule": [
            {"seq": r.seq, "due_date": r.due_date.isoformat(), "amount": format_fen(r.amount)}
            for r in schedule
        ],
    }


def _payload(view: dict[str, Any]) -> dict[str, Any]:
    """What a notification or event about the plan carries: its terms without the schedule."""
    return {k: v for k, v in view.items() if k != "schedule"}


def _notify(ctx: Context, line: Line, kind: str, payload: dict[str, Any]) -> None:
    notice = Notice(
        line.borrower_id, line.shard, ctx.today, kind, payload, line.product, line.credit_line_id
    )
    notify(ctx.conn, [notice])


def _event(ctx: Context, line: Line, kind: str, loan_id: int, payload: dict[str, Any]) -> Event:
    return Event(
        line.borrower_id,
        line.shard,
        ctx.today,
        kind,
        line.product,
        line.credit_line_id,
        loan_id,
        payload,
    )
