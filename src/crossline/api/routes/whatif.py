"""What-if: "if I pay this bill 40 days late…" projected day by day, nothing stored.

The projection runs on a copy of the borrower's book (``scenario.whatif``), so it
writes nothing and is not audited. It shows every lender group's view of the
borrower and every line, so only the borrower and console staff may ask: a
provider would otherwise see other groups' judgement.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import CallerDep, check_scope, engine_of, require_role
from crossline.api.errors import ApiError
from crossline.scenario.runner import whatif_request
from crossline.scenario.spec import ScenarioError
from crossline.servicing.context import open_context

router = APIRouter(tags=["what-if"])

WHERE = "body"


class WhatIfRequest(BaseModel):
    """The projection: whose, how many days from today, and the hypothetical steps
    (scenario steps dated inside the window; their borrower defaults to this one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    borrower: str
    days: int = Field(ge=1, le=730)
    steps: list[dict[str, Any]] = Field(default_factory=list)


def _field(message: str) -> str:
    """The field a ``ScenarioError`` names: ``body.days: …`` -> ``days``; an error inside
    a step -> ``steps``."""
    if message.startswith(f"{WHERE}.") and ":" in message:
        return message[len(WHERE) + 1 :].split(":", 1)[0]
    return "steps"


@router.post("/whatif")
def whatif(body: WhatIfRequest, request: Request, who: CallerDep) -> dict[str, Any]:
    """Each day of the window: the borrower's score per group, the limit and status of
    every line, and the bureau records, under the hypothetical steps."""
    require_role(who, frozenset({"borrower", "operator", "risk_admin"}), "project a borrower")
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        check_scope(who.principal, ctx.catalog, body.borrower, None)
        try:
            return whatif_request(conn, body.model_dump(), WHERE)
        except ScenarioError as exc:
            raise ApiError(400, "invalid_input", str(exc), _field(str(exc))) from exc
