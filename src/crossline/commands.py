"""Every command a borrower, a lender or an operator can give, and the one way to run it.

The scenario runner, the simulator and the HTTP API all turn a validated
command model (``scenario.spec``) into a service call here, so a command means
the same thing whoever sends it. Commands that move money (``MOVES_MONEY``)
can carry an idempotency key: the first answer is stored with the key in the
same transaction as the effects, and a replay returns it without running
again (``servicing.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from crossline.bureau.disputes import file_dispute, resolve_dispute
from crossline.bureau.explanations import add_explanation
from crossline.bureau.inquiries import SELF, record_inquiry
from crossline.decisions import applications
from crossline.decisions.authorisation import Authorisation, authorised_draw, authorised_purchase
from crossline.money import format_fen
from crossline.scenario.spec import (
    STEP_KINDS,
    AcceptPlan,
    Apply,
    ConvertStatement,
    Dispute,
    Draw,
    OpenLine,
    Purchase,
    Repay,
    RequestPlan,
    ResolveDispute,
    SelfQuery,
    Statement,
    SubmitDocument,
    VerifyDocument,
)
from crossline.servicing.context import Context, lock_borrower
from crossline.servicing.errors import RefusedError
from crossline.servicing.idempotency import run_once
from crossline.servicing.lines import open_line
from crossline.servicing.plans import accept_plan, request_plan
from crossline.servicing.repayment import repay
from crossline.servicing.revolving import convert_statement
from crossline.store.schema import loans

MOVES_MONEY: tuple[type[BaseModel], ...] = (Draw, Purchase, Repay, ConvertStatement)
"""Commands that book or move money: the API requires an idempotency key on each (the
same four ``run_command`` narrows to)."""
KIND_OF: dict[type[BaseModel], str] = {model: kind for kind, model in STEP_KINDS.items()}


def _open_line(ctx: Context, c: OpenLine) -> dict[str, Any]:
    line_id = open_line(ctx, c.borrower, c.product, c.limit, c.daily_rate, c.monthly_fee_rate)
    return {"credit_line_id": line_id, "limit": format_fen(c.limit)}


def _loan_result(ctx: Context, loan_id: int) -> dict[str, Any]:
    apr = ctx.conn.execute(sa.select(loans.c.apr).where(loans.c.loan_id == loan_id)).scalar_one()
    return {"loan_id": loan_id, "apr": apr}


def _authorised(authorisation: Authorisation, ctx: Context, loan_id: int | None) -> dict[str, Any]:
    """A booked loan, or a refusal: not ok, but the refused decision is kept."""
    if loan_id is None:
        refusal = {"ok": False, "code": authorisation.code, "reason": authorisation.reasons[0].text}
        return {"authorisation": authorisation.decision_id} | refusal
    return _loan_result(ctx, loan_id) | {"authorisation": authorisation.decision_id}


def _draw(ctx: Context, c: Draw) -> dict[str, Any]:
    authorisation, loan_id = authorised_draw(
        ctx, c.borrower, c.product, c.amount, c.term_months, c.method
    )
    return _authorised(authorisation, ctx, loan_id)


def _purchase(ctx: Context, c: Purchase) -> dict[str, Any]:
    authorisation, loan_id = authorised_purchase(
        ctx, c.borrower, c.product, c.amount, c.installments, c.monthly_fee_rate, c.merchant
    )
    return _authorised(authorisation, ctx, loan_id)


def _convert(ctx: Context, c: ConvertStatement) -> dict[str, Any]:
    return _loan_result(ctx, convert_statement(ctx, c.borrower, c.product, c.months))


def _repay(ctx: Context, c: Repay) -> dict[str, Any]:
    return repay(ctx, c.borrower, c.product, c.amount).as_dict()


def _self_query(ctx: Context, c: SelfQuery) -> dict[str, Any]:
    return record_inquiry(ctx, c.borrower, SELF, "self_query")


def _dispute(ctx: Context, c: Dispute) -> dict[str, Any]:
    return file_dispute(ctx, c.borrower, c.product, c.month, c.claim)


def _resolve(ctx: Context, c: ResolveDispute) -> dict[str, Any]:
    return resolve_dispute(ctx, c.borrower, c.product, c.month, c.outcome, c.status)


def _statement(ctx: Context, c: Statement) -> dict[str, Any]:
    return add_explanation(ctx, c.borrower, c.product, c.month, c.text)


def _apply(ctx: Context, c: Apply) -> dict[str, Any]:
    return applications.apply(ctx, c.borrower, c.product, c.requested_limit).as_dict()


def _submit(ctx: Context, c: SubmitDocument) -> dict[str, Any]:
    application = applications.referred_application(ctx, c.borrower, c.product)
    return applications.submit_document(ctx, application, c.kind, c.monthly_income).as_dict()


def _verify(ctx: Context, c: VerifyDocument) -> dict[str, Any]:
    application = applications.referred_application(ctx, c.borrower, c.product)
    document = applications.submitted_document(ctx, application, c.kind)
    return applications.verify_document(ctx, document, c.verified, c.note).as_dict()


def _request_plan(ctx: Context, c: RequestPlan) -> dict[str, Any]:
    return request_plan(ctx, c.borrower, c.product, c.months)


def _accept_plan(ctx: Context, c: AcceptPlan) -> dict[str, Any]:
    accepted = accept_plan(ctx, c.borrower, c.product)
    if accepted is None:
        raise RefusedError("no_plan_offer", f"no plan offer is pending on the {c.product} line")
    return accepted


_HANDLERS: dict[type[BaseModel], Callable[[Context, Any], dict[str, Any]]] = {
    OpenLine: _open_line,
    Draw: _draw,
    Purchase: _purchase,
    ConvertStatement: _convert,
    Repay: _repay,
    SelfQuery: _self_query,
    Dispute: _dispute,
    ResolveDispute: _resolve,
    Statement: _statement,
    Apply: _apply,
    SubmitDocument: _submit,
    VerifyDocument: _verify,
    RequestPlan: _request_plan,
    AcceptPlan: _accept_plan,
}


def run_command(
    ctx: Context, command: BaseModel, key: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Run ``command`` in ``ctx``'s transaction; returns (answer, replayed).

    A borrower's commands run one at a time (``lock_borrower``). With a ``key``
    (money-moving commands only), a replay of the same request returns
    the stored answer and writes nothing; the same key with a different request is
    refused (``idempotency_conflict``). The key field a ``Repay`` may carry itself is
    not part of the request."""
    handler = _HANDLERS[type(command)]
    borrower = getattr(command, "borrower", None)
    if isinstance(borrower, str):
        lock_borrower(ctx, borrower)
    if key is None:
        return handler(ctx, command), False
    if not isinstance(command, Draw | Purchase | Repay | ConvertStatement):
        raise TypeError(f"{KIND_OF[type(command)]} moves no money and takes no idempotency key")
    request = command.model_dump(mode="json", exclude={"key"})
    return run_once(
        ctx, key, command.borrower, KIND_OF[type(command)], request, lambda: handler(ctx, command)
    )
