"""Credit reports: every pull is an inquiry with its reason, as the rules require.

A borrower pulls their own report (a self-query: two free a year). A provider,
or a lender's operator or risk admin, pulls a borrower's report only for a
reason the rules allow — to decide an application (a hard inquiry) or to manage
a loan it granted — and the pull is recorded under its lender group before the
report is answered. This is the only way a lender sees what other lender groups
reported.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict

from crossline.api.access import CallerDep, audit_write, check_scope, engine_of, require_role
from crossline.api.errors import ApiError
from crossline.bureau.inquiries import SELF, record_inquiry
from crossline.bureau.report import credit_report
from crossline.servicing.context import open_context

router = APIRouter(tags=["bureau"])

PULLERS = frozenset({"borrower", "provider", "operator", "risk_admin"})


class ReportPull(BaseModel):
    """Whose report, and why it is pulled."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    borrower: str
    reason: Literal["loan_approval", "post_loan_management", "self_query"]


@router.post("/credit-reports")
def pull_report(body: ReportPull, request: Request, who: CallerDep) -> dict[str, Any]:
    """The borrower's personal credit report as of today: accounts with their 24-month
    grid, inquiries, disputes and statements; the pull itself is recorded first."""
    require_role(who, PULLERS, "pull a credit report")
    principal = who.principal
    own = principal.role == "borrower"
    if own != (body.reason == "self_query"):
        expected = "self_query" if own else "loan_approval or post_loan_management"
        raise ApiError(400, "invalid_input", f"reason: expected {expected}", "reason")
    with engine_of(request).begin() as conn:
        ctx = open_context(conn)
        check_scope(principal, ctx.catalog, body.borrower, None)
        inquirer = SELF if own else str(principal.lender_group)
        inquiry = record_inquiry(ctx, body.borrower, inquirer, body.reason)
        report = credit_report(conn, body.borrower, ctx.today)
        audit_write(conn, who, "pull_credit_report", f"borrower:{body.borrower}", body.model_dump())
    return {"inquiry": inquiry, "report": jsonable_encoder(report)}
