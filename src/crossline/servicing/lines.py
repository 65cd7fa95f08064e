"""Borrowers and credit lines: registration, opening, limits and availability."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from crossline.catalog import CatalogError, Product
from crossline.ledger.journal import Entry, Leg
from crossline.money import format_fen, rate_units
from crossline.servicing.context import Context, require_borrower
from crossline.servicing.errors import InputError, RefusedError
from crossline.servicing.revolving_accounts import open_revolving_loan
from crossline.store.schema import borrowers, credit_lines, installments, loans


@dataclass(frozen=True, slots=True)
class Line:
    """The parts of a credit line that commands decide on."""

    credit_line_id: int
    borrower_id: str
    shard: int
    product: str
    kind: str
    status: str
    limit_fen: int
    daily_rate_units: int | None
    monthly_fee_rate_units: int | None


def line_entry(
    ctx: Context, line: Line, event: str, loan_id: int | None, legs: tuple[Leg, ...]
) -> Entry:
    """A journal entry for one of the line's loans, dated today."""
    return Entry(line.borrower_id, line.shard, ctx.today, event, line.credit_line_id, loan_id, legs)


def register_borrower(ctx: Context, borrower_id: str, monthly_income_fen: int) -> None:
    """Add a borrower; registering the same id twice is refused."""
    if not borrower_id or len(borrower_id) > 64:
        raise InputError("borrower", "expected an id of 1 to 64 characters")
    if monthly_income_fen < 0:
        raise InputError("monthly_income", "expected a non-negative amount")
    exists = ctx.conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
    ).first()
    if exists is not None:
        raise RefusedError("duplicate_borrower", f"borrower {borrower_id!r} already exists")
    ctx.conn.execute(
        sa.insert(borrowers).values(
            borrower_id=borrower_id,
            shard=ctx.shard(borrower_id),
            monthly_income_fen=monthly_income_fen,
            created_on=ctx.today,
        )
    )


def catalog_product(ctx: Context, product_id: str) -> Product:
    """The product, or an input error naming the ``product`` field."""
    try:
        return ctx.catalog.product(product_id)
    except CatalogError as exc:
        raise InputError("product", str(exc)) from exc


def _pricing(
    product: Product, daily_rate: Decimal | None, monthly_fee_rate: Decimal | None
) -> tuple[int | None, int | None]:
    """The line's price tier; defaults to the top of the band (the list price)."""
    if product.kind == "cash_loan":
        if monthly_fee_rate is not None:
            raise InputError("monthly_fee_rate", f"does not apply to cash loan {product.id!r}")
        lo, hi = product.daily_rate_range()
        rate = hi if daily_rate is None else daily_rate
        if not lo <= rate <= hi:
            raise InputError("daily_rate", f"expected {lo}–{hi} for {product.id!r}, got {rate}")
        return rate_units(rate), None
    if daily_rate is not None:
        raise InputError("daily_rate", f"applies to cash loans only, not {product.id!r}")
    if product.kind == "installment":
        lo, hi = product.monthly_fee_rate_range()
        fee = hi if monthly_fee_rate is None else monthly_fee_rate
        if not lo <= fee <= hi:
            raise InputError(
                "monthly_fee_rate", f"expected {lo}–{hi} for {product.id!r}, got {fee}"
            )
        return None, rate_units(fee)
    if monthly_fee_rate is not None:
        raise InputError("monthly_fee_rate", f"does not apply to revolving {product.id!r}")
    return None, None


def open_line(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    limit_fen: int,
    daily_rate: Decimal | None = None,
    monthly_fee_rate: Decimal | None = None,
) -> int:
    """Open the borrower's line for a product with a limit and a price tier."""
    product = catalog_product(ctx, product_id)
    require_borrower(ctx, borrower_id)
    if limit_fen <= 0 or limit_fen > product.max_limit_fen:
        raise InputError(
            "limit", f"expected 0.01–{format_fen(product.max_limit_fen)} for {product_id!r}"
        )
    _pricing(product, daily_rate, monthly_fee_rate)
    if find_line(ctx, borrower_id, product_id) is not None:
        raise RefusedError("line_exists", f"{borrower_id!r} already has a {product_id} line")
    group = ctx.catalog.provider_of(product_id).group
    headroom = ctx.catalog.borrower_credit_cap_fen - group_limit_fen(ctx, borrower_id, group)
    if limit_fen > headroom:
        raise RefusedError(
            "credit_cap_reached",
            f"limit: {format_fen(limit_fen)} is more than the "
            f"{format_fen(max(0, headroom))} the borrower credit cap leaves beside the "
            f"borrower's other {group} lines (DOMAIN §5)",
        )
    return insert_line(ctx, borrower_id, product, limit_fen, daily_rate, monthly_fee_rate)


def group_limit_fen(ctx: Context, borrower_id: str, group: str) -> int:
    """The limits of the borrower's open lines with ``group`` added up: what the borrower
    credit cap is measured against."""
    c = credit_lines.c
    total = ctx.conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(c.limit_fen), 0)).where(
            c.borrower_id == borrower_id, c.lender_group == group, c.status != "closed"
        )
    ).scalar_one()
    return int(total)


_INSERT_LINE = credit_lines.insert().returning(credit_lines.c.credit_line_id)


def insert_line(
    ctx: Context,
    borrower_id: str,
    product: Product,
    limit_fen: int,
    daily_rate: Decimal | None = None,
    monthly_fee_rate: Decimal | None = None,
) -> int:
    """Open a line for a known borrower without one of the product, at a limit within the
    product's: ``open_line``'s write, for a decision that has made those checks itself."""
    daily_units, fee_units = _pricing(product, daily_rate, monthly_fee_rate)
    provider = ctx.catalog.provider_of(product.id)
    line_id = int(
        ctx.conn.execute(
            _INSERT_LINE,
            {
                "borrower_id": borrower_id,
                "shard": ctx.shard(borrower_id),
                "provider": provider.id,
                "lender_group": provider.group,
                "product": product.id,
                "kind": product.kind,
                "limit_fen": limit_fen,
                "granted_limit_fen": limit_fen,
                "status": "active",
                "daily_rate_units": daily_units,
                "monthly_fee_rate_units": fee_units,
                "opened_on": ctx.today,
            },
        ).scalar_one()
    )
    if product.kind == "revolving":
        open_revolving_loan(
            ctx.conn, product, borrower_id, ctx.shard(borrower_id), line_id, ctx.today
        )
    return line_id


LINE = sa.select(
    credit_lines.c.credit_line_id,
    credit_lines.c.borrower_id,
    credit_lines.c.shard,
    credit_lines.c.product,
    credit_lines.c.kind,
    credit_lines.c.status,
    credit_lines.c.limit_fen,
    credit_lines.c.daily_rate_units,
    credit_lines.c.monthly_fee_rate_units,
).where(
    credit_lines.c.borrower_id == sa.bindparam("borrower_id"),
    credit_lines.c.product == sa.bindparam("product"),
)
"""The borrower's line of a product, if any (bound: ``borrower_id``, ``product``)."""


def find_line(ctx: Context, borrower_id: str, product_id: str) -> Line | None:
    """The borrower's line for a product, if any."""
    row = ctx.conn.execute(LINE, {"borrower_id": borrower_id, "product": product_id}).first()
    return None if row is None else Line(*row)


def get_line(ctx: Context, borrower_id: str, product_id: str) -> Line:
    """The borrower's line for a product, or a refusal saying there is none."""
    line = find_line(ctx, borrower_id, product_id)
    if line is None:
        raise RefusedError("no_line", f"{borrower_id!r} has no {product_id} line")
    return line


def principal_in_use(where: sa.ColumnElement[bool]) -> sa.Select[int]:
    """The principal drawn and not yet repaid on the active loans ``where`` selects (a
    condition on ``loans``): what a limit is used by. One rule for a line and for all of a
    group's lines, which add up their own."""
    return (
        sa.select(
            sa.func.coalesce(
                sa.func.sum(installments.c.principal_fen - installments.c.paid_principal_fen), 0
            )
        )
        .select_from(installments.join(loans, installments.c.loan_id == loans.c.loan_id))
        .where(where, loans.c.status == "active", installments.c.status == "open")
    )


_USED = principal_in_use(loans.c.credit_line_id == sa.bindparam("credit_line_id"))


def used_fen(ctx: Context, credit_line_id: int) -> int:
    """Principal drawn on the line and not yet repaid (what the limit is used by)."""
    value = ctx.conn.execute(_USED, {"credit_line_id": credit_line_id}).scalar_one()
    return int(value)


def available_fen(ctx: Context, line: Line) -> int:
    """What can still be drawn: the limit less what is used, never below zero."""
    return max(0, line.limit_fen - used_fen(ctx, line.credit_line_id))


def require_active(line: Line) -> None:
    """New draws and purchases need an active line (not paused, frozen or closed)."""
    if line.status != "active":
        raise RefusedError("line_not_active", f"the {line.product} line is {line.status}")
