"""Who is asking: the principal every API call is made as.

The API authenticates a request (an API key for a provider's system, a session
for a borrower or console user) into a ``Principal`` and decides what the
request may see from it alone, so that every isolation rule reads the same
four fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["borrower", "provider", "operator", "risk_admin"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller and the scope it is bound to."""

    role: Role
    subject: str
    """The user login or API key id: what the audit log records as the actor."""
    borrower_id: str | None = None
    """Role borrower: the only borrower it may see."""
    provider: str | None = None
    """Role provider: the catalog provider its key is bound to."""
    lender_group: str | None = None
    """Provider: its group (from the catalog); operator and risk_admin: the group whose
    view the console shows."""
