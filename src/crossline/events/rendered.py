"""A stored notification in words: what the API shows and the channels send."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from crossline.events.templates import DEFAULT_LANGUAGE, render


@dataclass(frozen=True, slots=True)
class Rendered:
    """One notification, rendered in its borrower's language."""

    notification_id: int
    borrower_id: str
    business_date: date
    kind: str
    product: str | None
    language: str
    subject: str
    body: str
    email: str | None = None


def rendered_rows(
    rows: Iterable[Any], languages: Mapping[str, str], emails: Mapping[str, str] | None = None
) -> list[Rendered]:
    """``notifications`` rows rendered, each in its borrower's language (``languages``),
    with the borrower's address when ``emails`` has one."""
    out = []
    for row in rows:
        language = languages.get(row.borrower_id, DEFAULT_LANGUAGE)
        subject, body = render(
            row.kind, language, json.loads(row.payload), row.product, row.business_date
        )
        out.append(
            Rendered(
                notification_id=int(row.notification_id),
                borrower_id=row.borrower_id,
                business_date=row.business_date,
                kind=row.kind,
                product=row.product,
                language=language,
                subject=subject,
                body=body,
                email=(emails or {}).get(row.borrower_id),
            )
        )
    return out
