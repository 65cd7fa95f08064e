"""The borrower portal: a borrower's own credit across every product and lender group.

Each page reads through the API's route functions as the logged-in borrower, so the
portal shows exactly what ``GET /v1/borrowers/{me}/…`` would, and every form runs
the command the API runs, with its audit entry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from crossline.api.access import Caller
from crossline.api.routes import borrowers
from crossline.money import parse_amount
from crossline.web.pages import PageRoute, page
from crossline.web.session import BORROWERS, viewer

router = APIRouter(prefix="/portal", route_class=PageRoute)

LIMIT_DECISIONS = frozenset({"application", "review"})
"""The decisions that set or change a line's limit or status."""


def _me(request: Request) -> tuple[Caller, str]:
    who = viewer(request, BORROWERS)
    assert who.principal.borrower_id is not None, "a borrower user is bound to a borrower"
    return who, who.principal.borrower_id


def limit_history(request: Request, who: Caller, me: str) -> dict[str, list[dict[str, Any]]]:
    """Per product, the decisions that set or changed its line, newest first."""
    history: dict[str, list[dict[str, Any]]] = {}
    for decision in borrowers.borrower_decisions(me, request, who):
        if decision["kind"] in LIMIT_DECISIONS and decision["product"] is not None:
            history.setdefault(decision["product"], []).append(decision)
    return history


def owed_fen(line: dict[str, Any]) -> int:
    """Everything owed on a line (principal, interest, penalty, fees), in fen."""
    return sum(parse_amount(amount) for amount in line["outstanding"].values())


@router.get("")
def home(request: Request) -> Response:
    """My score in each lender group's view with its reasons, my lines and what last
    changed each of them."""
    who, me = _me(request)
    return page(
        request,
        "portal/home.html",
        who,
        scores=borrowers.scores(me, request, who),
        lines=[line | {"owed_fen": owed_fen(line)} for line in borrowers.lines(me, request, who)],
        history=limit_history(request, who, me),
        profile=borrowers.profile(me, request, who),
    )
