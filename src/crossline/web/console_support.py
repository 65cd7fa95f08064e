"""What every console page shares: the member of staff, the lender group whose view
they work in, that group's products, and the fixed confirmations a page may show.

A member of staff is bound to one lender group. The API's role checks let staff read
any borrower (``access.may_see_borrower``); what of a borrower belongs to a group is
decided here, once, so that no console page shows another group's live lines,
decisions, scores or disputes.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import Request

from crossline.api.access import Caller
from crossline.catalog import catalog_from_json
from crossline.store import platform
from crossline.web.session import STAFF, viewer

DONE = {
    "answered": "The dispute is answered and the bureau record updated.",
    "uploaded": "The policy is stored as a draft of your group.",
    "activated": "The policy now decides for your group.",
}
"""Confirmations a redirect may ask for by key: the page never echoes query text."""


def staff(request: Request) -> tuple[Caller, str]:
    """The logged-in operator or risk admin and their lender group."""
    who = viewer(request, STAFF)
    group = who.principal.lender_group
    assert group is not None, "a staff user is bound to a lender group"
    return who, group


def group_products(conn: sa.Connection, group: str) -> tuple[str, ...]:
    """The products ``group`` sees in real time; every other product only via the bureau."""
    catalog = catalog_from_json(platform.catalog_json(conn))
    return tuple(sorted(product.id for product in catalog.products_in_group(group)))


def done_message(key: str | None) -> str | None:
    """The confirmation for ``key``, or none for a key this console never sends."""
    return DONE.get(key or "")
