"""What-if: "if I pay this bill 40 days late…" projected day by day, nothing stored.

The projection runs on a copy of the borrower's book (``scenario.whatif``), so it
writes nothing and is not audited. The borrower sees every lender group's view
of them and every line; console staff see their own group's score and products
only, as everywhere in the API. Providers may not ask: a projection runs every
group's decisions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import (
    CallerDep,
    check_scope,
    engine_of,
    may_see_group,
    may_see_product,
    require_role,
)
from crossline.api.errors import ApiError
from crossline.catalog import Catalog
from crossline.scenario.runner import whatif_request
from crossline.scenario.spec import ScenarioError
from crossline.security import Principal
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
            projection = whatif_request(conn, body.model_dump(), WHERE)
        except ScenarioError as exc:
            raise ApiError(400, "invalid_input", str(exc), _field(str(exc))) from exc
    if who.principal.role == "borrower":
        return projection
    return _as_group_sees(projection, who.principal, ctx.catalog)


def _as_group_sees(
    projection: dict[str, Any], principal: Principal, catalog: Catalog
) -> dict[str, Any]:
    """The projection cut to what a console user's group may see: its own score and its
    own products' lines, reports and hypothetical outcomes."""

    def product_seen(product: str) -> bool:
        return may_see_product(principal, catalog, product)

    def change_seen(change: dict[str, Any]) -> bool:
        if change["what"] == "score":
            return may_see_group(principal, change["group"])
        return product_seen(change["product"])

    daily = [
        {
            "date": day["date"],
            "scores": {g: v for g, v in day["scores"].items() if may_see_group(principal, g)},
            "lines": {p: v for p, v in day["lines"].items() if product_seen(p)},
            "bureau": {m: v for m, v in day["bureau"].items() if product_seen(m.split(" ")[0])},
        }
        for day in projection["daily"]
    ]
    return projection | {
        "daily": daily,
        "changes": [c for c in projection["changes"] if change_seen(c)],
        "steps": [s for s in projection["steps"] if product_seen(s.get("product") or "")],
    }
