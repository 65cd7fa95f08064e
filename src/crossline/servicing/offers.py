"""Accepting the offer pending on a line, whichever workout made it.

An extension and a personalised installment plan are both request → offer → accept,
and the borrower accepts "the offer" on a line (``accept_offer``). Each workout gives
an acceptor that accepts its own pending offer or answers None when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.servicing.extensions import accept_extension
from crossline.servicing.plans import accept_plan

Acceptor = Callable[[Context, str, str], dict[str, Any] | None]

ACCEPTORS: tuple[Acceptor, ...] = (accept_extension, accept_plan)
"""Tried in order. A line cannot hold both at once: an extension is offered only on a
current loan and a plan only on an overdue line."""


def accept_offer(ctx: Context, borrower_id: str, product_id: str) -> dict[str, Any]:
    """Accept the offer pending on the borrower's line for ``product_id``."""
    for acceptor in ACCEPTORS:
        accepted = acceptor(ctx, borrower_id, product_id)
        if accepted is not None:
            return accepted
    raise RefusedError(
        "no_pending_offer",
        f"no offer is pending on {borrower_id!r}'s {product_id} line "
        "(none was requested, or it expired or was superseded); request one first",
    )
