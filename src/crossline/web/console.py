"""The risk console: lenders' operators and risk admins at work on their group's book.

Each page reads through the API's route functions and the report's measures as the
logged-in member of staff, so the console sees what the API would let them see, narrowed
to the member's lender group (``console_support``). The pages live in ``console_*``
modules whose routes are gathered here under ``/console``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crossline.api.access import engine_of
from crossline.report import EmptyBookError, build_report
from crossline.web import (
    console_borrowers,
    console_collections,
    console_decisions,
    console_disputes,
    console_policies,
)
from crossline.web.pages import PageRoute, chart, page
from crossline.web.session import STAFF, viewer

router = APIRouter(prefix="/console", route_class=PageRoute)


@router.get("")
def dashboard(request: Request) -> Response:
    """The portfolio report's figures and charts, measured from the book as it stands."""
    who = viewer(request, STAFF)
    with engine_of(request).connect() as conn:
        try:
            report = build_report(conn)
        except EmptyBookError:
            return page(request, "console/dashboard.html", who, report=None)
    sections = [
        {"key": s.key, "title": s.title, "reading": s.reading, "figure": chart(s.figure)}
        for s in report.sections
    ]
    return page(
        request,
        "console/dashboard.html",
        who,
        report=report,
        sections=sections,
        charts=True,
    )


for _pages in (
    console_borrowers,
    console_decisions,
    console_disputes,
    console_policies,
    console_collections,
):
    router.include_router(_pages.router)
