"""What a caller may read about a borrower: lines, decisions with their reasons,
notifications. A provider sees only its own products' rows; a borrower only their own."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request

from crossline.api.access import CallerDep, check_scope, engine_of, may_see_product
from crossline.catalog import Catalog
from crossline.money import format_fen
from crossline.security import Principal
from crossline.servicing.context import Context, open_context, require_borrower
from crossline.servicing.lines import available_fen, get_line
from crossline.store.schema import credit_lines, decisions, notifications

router = APIRouter(prefix="/borrowers", tags=["borrowers"])


def _visible(principal: Principal, catalog: Catalog, product: str | None) -> bool:
    """A row without a product (the borrower's own, e.g. a bureau notice) is the
    borrower's and console staff's; a provider sees rows of its own products."""
    if product is None:
        return principal.role != "provider"
    return may_see_product(principal, catalog, product)


def _open(ctx: Context, principal: Principal, borrower_id: str) -> None:
    """404 unless the borrower exists and the caller may see them."""
    check_scope(principal, ctx.catalog, borrower_id, None)
    require_borrower(ctx, borrower_id)


@router.get("/{borrower_id}/lines")
def lines(borrower_id: str, request: Request, who: CallerDep) -> list[dict[str, Any]]:
    """Each line the caller may see: its status, limit, what is still available and how
    late it is."""
    c = credit_lines.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        rows = conn.execute(
            sa.select(c.product, c.opened_on, c.dpd, c.bucket)
            .where(c.borrower_id == borrower_id)
            .order_by(c.product)
        )
        answer = []
        for row in rows:
            if not _visible(who.principal, ctx.catalog, row.product):
                continue
            line = get_line(ctx, borrower_id, row.product)
            answer.append(
                {
                    "product": row.product,
                    "opened_on": row.opened_on,
                    "status": line.status,
                    "limit": format_fen(line.limit_fen),
                    "available": format_fen(available_fen(ctx, line)),
                    "dpd": row.dpd,
                    "bucket": row.bucket,
                }
            )
        return answer


@router.get("/{borrower_id}/decisions")
def borrower_decisions(borrower_id: str, request: Request, who: CallerDep) -> list[dict[str, Any]]:
    """Every decision about the borrower the caller may see, newest first, with the
    policy version that made it and its reasons in plain language."""
    d = decisions.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        rows = conn.execute(
            sa.select(
                d.decision_id,
                d.business_date,
                d.kind,
                d.product,
                d.lender_group,
                d.outcome,
                d.score,
                d.policy_version,
                d.reasons,
            )
            .where(d.borrower_id == borrower_id)
            .order_by(d.decision_id.desc())
        )
        return [
            row._asdict() | {"reasons": json.loads(row.reasons)}
            for row in rows
            if _visible(who.principal, ctx.catalog, row.product)
        ]


@router.get("/{borrower_id}/notifications")
def borrower_notifications(
    borrower_id: str, request: Request, who: CallerDep
) -> list[dict[str, Any]]:
    """What the borrower was told (limit changes, pre-report notices, dues), newest first."""
    n = notifications.c
    with engine_of(request).connect() as conn:
        ctx = open_context(conn)
        _open(ctx, who.principal, borrower_id)
        rows = conn.execute(
            sa.select(n.notification_id, n.business_date, n.kind, n.channel, n.product, n.payload)
            .where(n.borrower_id == borrower_id)
            .order_by(n.notification_id.desc())
        )
        return [
            row._asdict() | {"payload": json.loads(row.payload)}
            for row in rows
            if _visible(who.principal, ctx.catalog, row.product)
        ]
