"""Commands: everything that changes a borrower's book, each run as ``crossline.commands``
runs it for the scenario runner and the simulator.

Each request is one transaction: the scope check, the command, the audit entry.
A refusal rolls all of it back, so a 4xx leaves the database as it was. A draw or
purchase the rules refuse is not an error: the refused authorisation is a stored
decision, answered 200 with ``ok: false``, its code and its reason.

Money-moving commands (draw, purchase, repay, convert) need an
``Idempotency-Key`` header. The key is the caller's own: it is stored under the
caller's identity, so two providers can never collide. A replay of the same
request answers what the first did, with ``Idempotent-Replayed: true``; the
same key with a different body is 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from crossline.api.access import (
    COMMAND_ROLES,
    Caller,
    CallerDep,
    audit_write,
    check_scope,
    engine_of,
    require_role,
)
from crossline.api.errors import ApiError
from crossline.commands import KIND_OF, MOVES_MONEY, run_command
from crossline.scenario.spec import (
    AcceptOffer,
    Apply,
    ConvertStatement,
    Dispute,
    Draw,
    EnableAutodebit,
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
from crossline.servicing.context import open_context

router = APIRouter(tags=["commands"])

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KeyHeader = Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER, min_length=1, max_length=100)]


def execute(
    request: Request, who: Caller, command: BaseModel, borrower: str, key: str | None
) -> tuple[dict[str, Any], bool]:
    """Run ``command`` as ``who`` in one transaction with its audit entry: the answer,
    and whether it replays an earlier request under the same idempotency ``key``. The
    portal's forms run their commands through here too."""
    kind = KIND_OF[type(command)]
    require_role(who, COMMAND_ROLES[kind], kind.replace("_", " "))
    moves_money = isinstance(command, MOVES_MONEY)
    if moves_money and key is None:
        raise ApiError(
            400,
            "invalid_input",
            f"{IDEMPOTENCY_HEADER}: required on every command that moves money",
            IDEMPOTENCY_HEADER,
        )
    if isinstance(command, Repay) and command.key is not None:
        raise ApiError(
            400, "invalid_input", f"key: send it as the {IDEMPOTENCY_HEADER} header", "key"
        )
    with engine_of(request).begin() as conn:
        ctx = open_context(conn)
        check_scope(who.principal, ctx.catalog, borrower, getattr(command, "product", None))
        scoped_key = f"{who.principal.subject}:{key}" if moves_money else None
        answer, replayed = run_command(ctx, command, scoped_key)
        if not replayed:
            audit_write(conn, who, kind, f"borrower:{borrower}", command.model_dump(mode="json"))
    return {"ok": True} | answer, replayed


def _execute(
    request: Request, who: Caller, command: BaseModel, borrower: str, key: str | None
) -> JSONResponse:
    answer, replayed = execute(request, who, command, borrower, key)
    headers = {REPLAYED_HEADER: "true"} if replayed else {}
    return JSONResponse(jsonable_encoder(answer), headers=headers)


@router.post("/applications")
def apply(body: Apply, request: Request, who: CallerDep) -> JSONResponse:
    """Apply for a line: the group's view and the bureau (an inquiry is recorded) are
    scored and the group's policy answers approved, referred or declined, with reasons."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/documents")
def submit_document(body: SubmitDocument, request: Request, who: CallerDep) -> JSONResponse:
    """File a document a referred application asked for."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/documents/verification")
def verify_document(body: VerifyDocument, request: Request, who: CallerDep) -> JSONResponse:
    """The lender's check of a filed document; the application is decided again."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/draws")
def draw(body: Draw, request: Request, who: CallerDep, key: KeyHeader = None) -> JSONResponse:
    """Draw a cash loan, authorised in real time."""
    return _execute(request, who, body, body.borrower, key)


@router.post("/purchases")
def purchase(
    body: Purchase, request: Request, who: CallerDep, key: KeyHeader = None
) -> JSONResponse:
    """A purchase on a revolving line or a merchant installment plan, authorised in real time."""
    return _execute(request, who, body, body.borrower, key)


@router.post("/repayments")
def repay(body: Repay, request: Request, who: CallerDep, key: KeyHeader = None) -> JSONResponse:
    """Repay an amount, everything due (``all_due``) or everything owed (``all``)."""
    return _execute(request, who, body, body.borrower, key)


@router.post("/conversions")
def convert(
    body: ConvertStatement, request: Request, who: CallerDep, key: KeyHeader = None
) -> JSONResponse:
    """Turn the latest statement's revolving balance into bill installments."""
    return _execute(request, who, body, body.borrower, key)


@router.post("/self-queries")
def self_query(body: SelfQuery, request: Request, who: CallerDep) -> JSONResponse:
    """The borrower pulls their own credit report (two free a year)."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/disputes")
def dispute(body: Dispute, request: Request, who: CallerDep) -> JSONResponse:
    """Dispute a reported record: flagged at once, to be answered within 20 days."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/disputes/answers")
def answer_dispute(body: ResolveDispute, request: Request, who: CallerDep) -> JSONResponse:
    """The provider's answer to a dispute: corrected, confirmed or unverifiable."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/explanations")
def explain(body: Statement, request: Request, who: CallerDep) -> JSONResponse:
    """Attach the borrower's explanatory statement to a reported record."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/extensions")
def request_extension(body: RequestExtension, request: Request, who: CallerDep) -> JSONResponse:
    """Ask to extend a cash loan (展期): the offer (new maturity, fee, APR with the fee, new
    schedule) is stored and shown; within 《贷款通则》 Art. 12 or refused naming it."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/offers/acceptance")
def accept_offer(
    body: AcceptOffer, request: Request, who: CallerDep, key: KeyHeader = None
) -> JSONResponse:
    """Accept the offer pending on the line: the loan is rescheduled and the fee booked."""
    return _execute(request, who, body, body.borrower, key)


@router.post("/waivers")
def waive(body: Waive, request: Request, who: CallerDep) -> JSONResponse:
    """A risk admin forgives penalty, interest or fee owed on a line, with a reason; the
    waiver records the admin from the credential, never from the body."""
    if body.by is not None:
        raise ApiError(400, "invalid_input", "by: set from your credential, not sent", "by")
    granted = body.model_copy(update={"by": who.principal.subject})
    return _execute(request, who, granted, body.borrower, None)


NEGOTIATES = frozenset({"risk_admin"})
"""Who may settle for less than everything owed (waiving the rest)."""


@router.post("/settlements")
def settle(body: Settle, request: Request, who: CallerDep, key: KeyHeader = None) -> JSONResponse:
    """Pay everything owed on the line and close it (reported C at the next month end); a
    risk admin's negotiated settlement names the amount paid and waives the rest."""
    if body.by is not None:
        raise ApiError(400, "invalid_input", "by: set from your credential, not sent", "by")
    negotiated = body.waive_rest_reason is not None or body.amount is not None
    if negotiated:
        require_role(who, NEGOTIATES, "settle for less than is owed")
    elif who.principal.role in NEGOTIATES:
        raise ApiError(403, "forbidden", "a risk_admin may only negotiate a settlement")
    command = body.model_copy(update={"by": who.principal.subject}) if negotiated else body
    return _execute(request, who, command, body.borrower, key)


@router.post("/autodebits")
def enable_autodebit(body: EnableAutodebit, request: Request, who: CallerDep) -> JSONResponse:
    """Link an account to a line: what falls due is debited at end-of-day on the due
    date, retried on the next two days (no account number is stored, only its balance)."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/autodebits/balance")
def set_account_balance(body: SetAccountBalance, request: Request, who: CallerDep) -> JSONResponse:
    """The borrower sets the available balance of the account linked to a line."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/notification-language")
def notification_language(body: SetLanguage, request: Request, who: CallerDep) -> JSONResponse:
    """The language (zh or en) the borrower's notifications are written in."""
    return _execute(request, who, body, body.borrower, None)


@router.post("/plans")
def request_plan(body: RequestPlan, request: Request, who: CallerDep) -> JSONResponse:
    """Ask for a personalised installment plan of an overdue line (2 to 60 months, Art.
    70): the answer is the offer, stored for acceptance today, or 422 with the rule."""
    return _execute(request, who, body, body.borrower, None)
