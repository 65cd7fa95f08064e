"""The platform's state any caller may read: the business date, and whether the day is
closing (commands are refused until it is done)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from crossline.api.access import CallerDep, engine_of
from crossline.store import platform

router = APIRouter(tags=["platform"])


@router.get("/business-date")
def business_date(request: Request, _who: CallerDep) -> dict[str, Any]:
    """Today's business date and whether its end-of-day is running."""
    with engine_of(request).connect() as conn:
        state = platform.state(conn)
    return {"business_date": state.business_date, "closing": state.closing}
