"""Authorising each draw and purchase in real time, against the line and the whole group.

Before new money goes out the platform checks, in order: the line is active
(not paused, frozen or closed); the amount fits the line's available limit;
the amount fits the group's borrower-level limit, which caps all the group's
lines together (a Huabei purchase line and a Jiebei cash line share one
borrower limit); and the group's ``authorisation`` policy graph, if it has
one, approves. The first check that fails refuses, with its reason.

Every authorisation is a stored decision, refused ones included: a refusal is
something the platform decided and must be able to explain, not bad input.
Bad input (an amount that is not positive, an unknown product, a term the
product does not offer) is refused before anything is written.

The policy reads the borrower's current score in the group's view, served
from ``current_scores`` when it is current (``decisions.inputs``), else
computed from the view at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crossline.decisions.inputs import borrower_view
from crossline.decisions.policies import policy_for
from crossline.decisions.records import DecisionRecord, Reason, record_decision
from crossline.money import format_fen
from crossline.policy.bundle import Bundle
from crossline.policy.evaluate import evaluate
from crossline.scoring.scorecard import default_scorecard
from crossline.servicing import origination
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError
from crossline.servicing.lines import Line, available_fen, catalog_product, get_line
from crossline.servicing.purchases import purchase
from crossline.store.schema import (
    borrower_limits,
    credit_lines,
    installments,
    loans,
)

HARD_REASONS = {
    "line_not_active": "This credit line is {status}: it cannot be used for now.",
    "insufficient_limit": "The amount is more than the available limit of {available}.",
    "group_limit_exceeded": (
        "The amount would take your credit with {group} beyond its limit of {limit} "
        "for all your lines together ({used} in use)."
    ),
}


@dataclass(frozen=True, slots=True)
class Authorisation:
    decision_id: int
    authorised: bool
    reasons: tuple[Reason, ...]
    policy_version: str

    @property
    def code(self) -> str | None:
        return None if self.authorised else self.reasons[0].code

    def as_dict(self) -> dict[str, Any]:
        return {
            "authorisation": self.decision_id,
            "authorised": self.authorised,
            "reasons": [{"code": r.code, "text": r.text} for r in self.reasons],
        }


_GROUP_LIMIT = sa.select(borrower_limits.c.limit_fen).where(
    borrower_limits.c.borrower_id == sa.bindparam("borrower_id"),
    borrower_limits.c.lender_group == sa.bindparam("group"),
)
_GROUP_USED = (
    sa.select(
        sa.func.coalesce(
            sa.func.sum(installments.c.principal_fen - installments.c.paid_principal_fen), 0
        )
    )
    .select_from(
        installments.join(loans, installments.c.loan_id == loans.c.loan_id).join(
            credit_lines, loans.c.credit_line_id == credit_lines.c.credit_line_id
        )
    )
    .where(
        loans.c.borrower_id == sa.bindparam("borrower_id"),
        credit_lines.c.lender_group == sa.bindparam("group"),
        loans.c.status == "active",
        installments.c.status == "open",
    )
)
_LATE_LINES = sa.select(credit_lines.c.product, credit_lines.c.dpd).where(
    credit_lines.c.borrower_id == sa.bindparam("borrower_id"),
    credit_lines.c.lender_group == sa.bindparam("group"),
    credit_lines.c.dpd > 0,
)
_LINE_DPD = sa.select(credit_lines.c.dpd).where(
    credit_lines.c.credit_line_id == sa.bindparam("credit_line_id")
)


def group_exposure(ctx: Context, borrower_id: str, group: str) -> tuple[int | None, int]:
    """The group's borrower-level limit (None if it sets none) and the principal in use
    on all the borrower's lines with the group."""
    keys = {"borrower_id": borrower_id, "group": group}
    limit = ctx.conn.execute(_GROUP_LIMIT, keys).scalar_one_or_none()
    used = ctx.conn.execute(_GROUP_USED, keys).scalar_one()
    return (None if limit is None else int(limit)), int(used)


def _overdue_lines(ctx: Context, borrower_id: str, group: str) -> int:
    """The group's lines overdue past their product's grace (paying in grace is on time)."""
    rows = ctx.conn.execute(_LATE_LINES, {"borrower_id": borrower_id, "group": group}).all()
    return sum(1 for row in rows if row.dpd > ctx.catalog.product(row.product).grace_days)


def _score(ctx: Context, borrower_id: str, group: str) -> tuple[int, str]:
    view = borrower_view(ctx.conn, ctx.catalog, group, borrower_id, ctx.today, default_scorecard())
    return view.score, view.band


def _hard_refusal(line: Line, group: str, amount_fen: int, inputs: dict[str, Any]) -> Reason | None:
    if line.status != "active":
        text = HARD_REASONS["line_not_active"].format(status=line.status)
        return Reason("line_not_active", text)
    if amount_fen > inputs["line_available_fen"]:
        available = format_fen(inputs["line_available_fen"])
        return Reason(
            "insufficient_limit", HARD_REASONS["insufficient_limit"].format(available=available)
        )
    limit = inputs["group_limit_fen"]
    if limit is not None and inputs["group_used_fen"] + amount_fen > limit:
        text = HARD_REASONS["group_limit_exceeded"].format(
            group=group, limit=format_fen(limit), used=format_fen(inputs["group_used_fen"])
        )
        return Reason("group_limit_exceeded", text)
    return None


def _policy_refusal(bundle: Bundle, inputs: dict[str, Any]) -> tuple[Reason | None, Any]:
    graph = bundle.graphs.get("authorisation")
    if graph is None:
        return None, {}
    result = evaluate(graph, inputs)
    row = result["authorise"]
    if row is None or row["outcome"] == "decline":
        code = row["reason"] if row and row.get("reason") else "policy_declined"
        text = bundle.reasons.get(code, "Our lending policy does not allow this use of the line.")
        return Reason(code, text), result
    return None, result


def _line_dpd(ctx: Context, line: Line) -> int:
    return int(ctx.conn.execute(_LINE_DPD, {"credit_line_id": line.credit_line_id}).scalar_one())


def authorise(ctx: Context, borrower_id: str, product_id: str, amount_fen: int) -> Authorisation:
    """Decide whether ``amount_fen`` of new draw or purchase may go out on the line."""
    if amount_fen <= 0:
        raise InputError("amount", "expected a positive amount")
    product = catalog_product(ctx, product_id)
    line = get_line(ctx, borrower_id, product_id)
    group = ctx.catalog.group_of(product_id)
    limit, used = group_exposure(ctx, borrower_id, group)
    score, band = _score(ctx, borrower_id, group)
    inputs: dict[str, Any] = {
        "score": score,
        "band": band,
        "product": product_id,
        "product_kind": product.kind,
        "amount_fen": amount_fen,
        "line_limit_fen": line.limit_fen,
        "line_available_fen": available_fen(ctx, line),
        "line_dpd": _line_dpd(ctx, line),
        "group_limit_fen": limit,
        "group_used_fen": used,
        "group_overdue_lines": _overdue_lines(ctx, borrower_id, group),
    }
    bundle, arm = policy_for(ctx, group, borrower_id)
    refusal = _hard_refusal(line, group, amount_fen, inputs)
    outputs: Any = {}
    if refusal is None:
        refusal, outputs = _policy_refusal(bundle, inputs)
    reasons = () if refusal is None else (refusal,)
    decision_id = record_decision(
        ctx.conn,
        DecisionRecord(
            borrower_id=borrower_id,
            shard=line.shard,
            lender_group=group,
            product=product_id,
            credit_line_id=line.credit_line_id,
            application_id=None,
            kind="authorisation",
            business_date=ctx.today,
            policy_version=bundle.version,
            arm=arm,
            outcome="authorised" if refusal is None else "refused",
            score=score,
            reasons=reasons,
            inputs=inputs,
            outputs=outputs,
        ),
    )
    return Authorisation(decision_id, refusal is None, reasons, bundle.version)


def authorised_draw(
    ctx: Context, borrower_id: str, product_id: str, amount_fen: int, term_months: int, method: str
) -> tuple[Authorisation, int | None]:
    """Authorise a cash-loan draw, then book it; the loan id is None if refused."""
    authorisation = authorise(ctx, borrower_id, product_id, amount_fen)
    if not authorisation.authorised:
        return authorisation, None
    return authorisation, origination.draw(
        ctx, borrower_id, product_id, amount_fen, term_months, method
    )


def authorised_purchase(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    amount_fen: int,
    installments: int | None = None,
    monthly_fee_rate: Decimal | None = None,
    merchant: str | None = None,
) -> tuple[Authorisation, int | None]:
    """Authorise a purchase (revolving or in installments), then book it."""
    authorisation = authorise(ctx, borrower_id, product_id, amount_fen)
    if not authorisation.authorised:
        return authorisation, None
    return authorisation, purchase(
        ctx, borrower_id, product_id, amount_fen, installments, monthly_fee_rate, merchant
    )
