"""The decisions explorer: the group's stored decisions, filtered, counted and paged,
each with the inputs, outputs, reasons and policy version that made it (DESIGN §8).

Decisions are read straight from the ``decisions`` table, always narrowed to the staff
member's lender group: another group's decision is 404, as if it did not exist.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Literal
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crossline.api.access import engine_of
from crossline.api.errors import not_found
from crossline.store.schema import decisions
from crossline.web.console_support import staff
from crossline.web.pages import PageRoute, page

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 50
KINDS = ("application", "authorisation", "review")


class DecisionFilter(BaseModel):
    """The explorer's form; an empty field filters nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    start: date | None = Field(default=None, alias="from")
    end: date | None = Field(default=None, alias="to")
    kind: Literal["application", "authorisation", "review"] | None = None
    outcome: str | None = Field(default=None, pattern=r"^[a-z_]{1,16}$")
    product: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,32}$")
    reason: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,64}$")
    page: int = Field(default=1, ge=1)

    def query(self, **changes: Any) -> str:
        """This filter as the form's query string, with ``changes`` (for page links)."""
        values = self.model_dump(by_alias=True, exclude_none=True) | changes
        return urlencode({k: str(v) for k, v in values.items()})


def _reason_has(code: str) -> sa.ColumnElement[bool]:
    """The reasons JSON names ``code``. Real-time decisions store it with
    ``json.dumps`` (``"code": "x"``), the nightly batch compactly (``"code":"x"``);
    the code is a checked identifier, so it holds no LIKE wildcard."""
    reasons = decisions.c.reasons
    return sa.or_(reasons.contains(f'"code": "{code}"'), reasons.contains(f'"code":"{code}"'))


def matching(group: str, wanted: DecisionFilter) -> sa.ColumnElement[bool]:
    """The group's decisions the filter selects."""
    d = decisions.c
    where = [d.lender_group == group]
    if wanted.start is not None:
        where.append(d.business_date >= wanted.start)
    if wanted.end is not None:
        where.append(d.business_date <= wanted.end)
    for column, value in (("kind", wanted.kind), ("outcome", wanted.outcome)):
        if value is not None:
            where.append(d[column] == value)
    if wanted.product is not None:
        where.append(d.product == wanted.product)
    if wanted.reason is not None:
        where.append(_reason_has(wanted.reason))
    return sa.and_(*where)


def _form(request: Request) -> DecisionFilter:
    """The query string as a filter; empty fields (as a GET form sends them) are unset."""
    given = {k: v for k, v in request.query_params.items() if v.strip()}
    return DecisionFilter.model_validate(given)


@router.get("/decisions")
def explorer(request: Request) -> Response:
    """The filter's counts per outcome and one page of its decisions, newest first."""
    who, group = staff(request)
    wanted = _form(request)
    d = decisions.c
    where = matching(group, wanted)
    with engine_of(request).connect() as conn:
        counts = {
            row.outcome: row.n
            for row in conn.execute(
                sa.select(d.outcome, sa.func.count().label("n"))
                .where(where)
                .group_by(d.outcome)
                .order_by(d.outcome)
            )
        }
        rows = conn.execute(
            sa.select(
                d.decision_id,
                d.borrower_id,
                d.business_date,
                d.kind,
                d.product,
                d.outcome,
                d.score,
                d.policy_version,
                d.arm,
                d.reasons,
            )
            .where(where)
            .order_by(d.business_date.desc(), d.decision_id.desc())
            .limit(PAGE_SIZE)
            .offset((wanted.page - 1) * PAGE_SIZE)
        ).all()
        products = conn.execute(
            sa.select(d.product).where(d.lender_group == group).distinct().order_by(d.product)
        ).scalars()
        choices = [p for p in products if p is not None]
    total = sum(counts.values())
    return page(
        request,
        "console/decisions.html",
        who,
        wanted=wanted,
        counts=counts,
        total=total,
        rows=[row._asdict() | {"reasons": json.loads(row.reasons)} for row in rows],
        kinds=KINDS,
        products=choices,
        previous=wanted.query(page=wanted.page - 1) if wanted.page > 1 else None,
        following=wanted.query(page=wanted.page + 1) if wanted.page * PAGE_SIZE < total else None,
    )


@router.get("/decisions/{decision_id}")
def decision(decision_id: str, request: Request) -> Response:
    """One of the group's decisions in full; any other id is 404."""
    who, group = staff(request)
    d = decisions.c
    row = None
    if decision_id.isdigit():
        with engine_of(request).connect() as conn:
            row = conn.execute(
                sa.select(decisions).where(
                    d.decision_id == int(decision_id), d.lender_group == group
                )
            ).first()
    if row is None:
        raise not_found("decision")
    shown = row._asdict() | {
        name: json.loads(getattr(row, name)) for name in ("reasons", "inputs", "outputs")
    }
    return page(request, "console/decision.html", who, decision=shown)
