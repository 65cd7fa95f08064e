"""The collections queue in the console: the group's past-due lines, latest bucket first,
each with its strategy, the amount overdue, the last contact and any open promise — the
same entries ``GET /v1/collections/queue`` answers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crossline.api.access import engine_of
from crossline.collections import collections_queue
from crossline.store import platform
from crossline.web.console_support import staff
from crossline.web.pages import PageRoute, page

router = APIRouter(route_class=PageRoute)


@router.get("/collections")
def collections(request: Request) -> Response:
    """The group's collections queue on the business date."""
    who, group = staff(request)
    with engine_of(request).connect() as conn:
        today = platform.business_date(conn)
        queue = collections_queue(conn, today, {group})
    return page(request, "console/collections.html", who, queue=queue, today=today)
