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
from crossline.servicing.lines import Line, catalog_product, get_line, principal_in_use
from crossline.servicing.plans import honoured_plan_lines
from crossline.servicing.purchases import purchase
from crossline.store.schema import borrower_limits, credit_lines, loans

HARD_REASONS = {
    "line_not_active": "This credit line is {status}: it cannot be used for now.",
    "line_under_plan": (
        "This line is being repaid under a personalised installment plan: new credit on it "
        "waits until the plan is completed."
    ),
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
_GROUP_LINES = sa.select(
    credit_lines.c.credit_line_id,
    credit_lines.c.product,
    credit_lines.c.dpd,
    principal_in_use(loans.c.credit_line_id == credit_lines.c.credit_line_id)
    .scalar_subquery()
    .label("used_fen"),
).where(
    credit_lines.c.borrower_id == sa.bindparam("borrower_id"),
    credit_lines.c.lender_group == sa.bindparam("group"),
)


@dataclass(frozen=True, slots=True)
class Exposure:
    """The borrower's lines with one group as an authorisation weighs them, from two reads
    (the group's limit; its lines with what each has in use) rather than one per figure."""

    limit_fen: int | None
    """The group's borrower-level limit, None if it sets none."""
    used_fen: int
    """Principal in use on all the borrower's lines with the group."""
    overdue_lines: int
    """The group's lines overdue past their product's grace (paying in grace is on time)."""
    line_used_fen: dict[int, int]
    """Principal in use on each of those lines, by credit line id."""
    line_dpd: dict[int, int]


def group_exposure(ctx: Context, borrower_id: str, group: str) -> Exposure:
    """The borrower's limit and lines with ``group``: what each line has in use, and its DPD."""
    keys = {"borrower_id": borrower_id, "group": group}
    limit = ctx.conn.execute(_GROUP_LIMIT, keys).scalar_one_or_none()
    lines = ctx.conn.execute(_GROUP_LINES, keys).all()
    grace = {row.product: ctx.catalog.product(row.product).grace_days for row in lines}
    return Exposure(
        limit_fen=None if limit is None else int(limit),
        used_fen=sum(int(row.used_fen) for row in lines),
        overdue_lines=sum(1 for row in lines if row.dpd > grace[row.product]),
        line_used_fen={int(row.credit_line_id): int(row.used_fen) for row in lines},
        line_dpd={int(row.credit_line_id): int(row.dpd) for row in lines},
    )


def _score(ctx: Context, borrower_id: str, group: str) -> tuple[int, str]:
    view = borrower_view(ctx.conn, ctx.catalog, group, borrower_id, ctx.today, default_scorecard())
    return view.score, view.band


def _hard_refusal(line: Line, group: str, amount_fen: int, inputs: dict[str, Any]) -> Reason | None:
    if line.status != "active":
        text = HARD_REASONS["line_not_active"].format(status=line.status)
        return Reason("line_not_active", text)
    if inputs["line_under_plan"]:
        return Reason("line_under_plan", HARD_REASONS["line_under_plan"])
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


def authorise(ctx: Context, borrower_id: str, product_id: str, amount_fen: int) -> Authorisation:
    """Decide whether ``amount_fen`` of new draw or purchase may go out on the line."""
    if amount_fen <= 0:
        raise InputError("amount", "expected a positive amount")
    product = catalog_product(ctx, product_id)
    line = get_line(ctx, borrower_id, product_id)
    group = ctx.catalog.group_of(product_id)
    exposure = group_exposure(ctx, borrower_id, group)
    score, band = _score(ctx, borrower_id, group)
    inputs: dict[str, Any] = {
        "score": score,
        "band": band,
        "product": product_id,
        "product_kind": product.kind,
        "amount_fen": amount_fen,
        "line_limit_fen": line.limit_fen,
        "line_available_fen": max(0, line.limit_fen - exposure.line_used_fen[line.credit_line_id]),
        "line_dpd": exposure.line_dpd[line.credit_line_id],
        "group_limit_fen": exposure.limit_fen,
        "group_used_fen": exposure.used_fen,
        "group_overdue_lines": exposure.overdue_lines,
        "line_under_plan": line.credit_line_id in honoured_plan_lines(ctx.conn, borrower_id),
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
