"""Purchases: merchant installment plans, and spending or installments on revolving lines."""

from __future__ import annotations

from decimal import Decimal

from crossline.servicing import origination, revolving
from crossline.servicing.context import Context
from crossline.servicing.errors import InputError
from crossline.servicing.lines import catalog_product, get_line


def purchase(
    ctx: Context,
    borrower_id: str,
    product_id: str,
    amount_fen: int,
    installments: int | None = None,
    monthly_fee_rate: Decimal | None = None,
    merchant: str | None = None,
) -> int:
    """Book a purchase on the borrower's line; returns the loan id."""
    product = catalog_product(ctx, product_id)
    if product.kind == "cash_loan":
        raise InputError("product", f"{product_id!r} is a cash loan; use a draw")
    line = get_line(ctx, borrower_id, product_id)
    if product.kind == "revolving":
        if monthly_fee_rate is not None:
            raise InputError("monthly_fee_rate", f"does not apply to revolving {product_id!r}")
        if installments is None:
            return revolving.spend(ctx, line, amount_fen)
        return revolving.purchase_in_installments(ctx, product, line, amount_fen, installments)
    if installments is None:
        raise InputError("installments", f"a purchase on {product_id!r} needs a number of months")
    return origination.purchase_installments(
        ctx, product, line, amount_fen, installments, monthly_fee_rate, merchant
    )
