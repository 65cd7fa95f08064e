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
from crossline.collections import record_contact, record_promise, set_night_consent
from crossline.collections.numbers import env_cipher
from crossline.decisions import applications
from crossline.decisions.authorisation import Authorisation, authorised_draw, authorised_purchase
from crossline.events.preferences import set_language
from crossline.money import format_fen
from crossline.scenario.spec import (
    STEP_KINDS,
    AcceptOffer,
    Apply,
    ConsentContactHours,
    Contact,
    ConvertStatement,
    Dispute,
    Draw,
    EnableAutodebit,
    OpenLine,
    PromiseToPay,
    Purchase,
    Repay,
    RequestExtension,
    RequestPlan,
    ResolveDispute,
    SelfQuery,
    SetAccountBalance,
    SetLanguage,
    Settle,
    Statement,
    SubmitDocument,
    VerifyDocument,
    Waive,
)
from crossline.servicing.autodebit import enable_autodebit, set_account_balance
from crossline.servicing.context import Context, lock_borrower
from crossline.servicing.extensions import request_extension
from crossline.servicing.idempotency import run_once
from crossline.servicing.lines import open_line
from crossline.servicing.offers import accept_offer
from crossline.servicing.plans import request_plan
from crossline.servicing.repayment import repay
from crossline.servicing.revolving import convert_statement
from crossline.servicing.settlement import settle
from crossline.servicing.waivers import waive
from crossline.store.schema import loans

MOVES_MONEY: tuple[type[BaseModel], ...] = (
    Draw,
    Purchase,
    Repay,
    ConvertStatement,
    AcceptOffer,
    Settle,
)
"""Commands that book or move money: the API requires an idempotency key on each (the
same ones ``run_command`` narrows to). Accepting an offer books its fee."""
SCENARIO_OPERATOR = "scenario"
"""Who grants a scenario's waiver when its step names no one: the platform's operator,
whom the scenario runner acts as."""
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


def _waive(ctx: Context, c: Waive) -> dict[str, Any]:
    by = c.by or SCENARIO_OPERATOR
    return waive(ctx, c.borrower, c.product, c.component, c.amount, c.reason, by)


def _settle(ctx: Context, c: Settle) -> dict[str, Any]:
    by = c.by or SCENARIO_OPERATOR
    return settle(ctx, c.borrower, c.product, c.amount, c.waive_rest_reason, by)


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


def _request_extension(ctx: Context, c: RequestExtension) -> dict[str, Any]:
    return request_extension(ctx, c.borrower, c.product, c.months, c.loan)


def _accept_offer(ctx: Context, c: AcceptOffer) -> dict[str, Any]:
    return accept_offer(ctx, c.borrower, c.product)


def _contact(ctx: Context, c: Contact) -> dict[str, Any]:
    return record_contact(ctx, c, env_cipher())


def _promise(ctx: Context, c: PromiseToPay) -> dict[str, Any]:
    return record_promise(ctx, c)


def _consent(ctx: Context, c: ConsentContactHours) -> dict[str, Any]:
    return set_night_consent(ctx, c)


def _enable_autodebit(ctx: Context, c: EnableAutodebit) -> dict[str, Any]:
    return enable_autodebit(ctx, c.borrower, c.product, c.account_balance)


def _set_account_balance(ctx: Context, c: SetAccountBalance) -> dict[str, Any]:
    return set_account_balance(ctx, c.borrower, c.product, c.account_balance)


def _set_language(ctx: Context, c: SetLanguage) -> dict[str, Any]:
    return set_language(ctx, c.borrower, c.language)


def _request_plan(ctx: Context, c: RequestPlan) -> dict[str, Any]:
    return request_plan(ctx, c.borrower, c.product, c.months)


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
    RequestExtension: _request_extension,
    AcceptOffer: _accept_offer,
    Contact: _contact,
    PromiseToPay: _promise,
    ConsentContactHours: _consent,
    Waive: _waive,
    Settle: _settle,
    EnableAutodebit: _enable_autodebit,
    SetAccountBalance: _set_account_balance,
    SetLanguage: _set_language,
    RequestPlan: _request_plan,
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
    if not isinstance(command, MOVES_MONEY):
        raise TypeError(f"{KIND_OF[type(command)]} moves no money and takes no idempotency key")
    assert isinstance(borrower, str), "every money-moving command names its borrower"
    request = command.model_dump(mode="json", exclude={"key"})
    return run_once(
        ctx, key, borrower, KIND_OF[type(command)], request, lambda: handler(ctx, command)
    )
