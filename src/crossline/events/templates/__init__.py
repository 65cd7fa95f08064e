"""Notification templates, one Jinja2 text file per kind and language, and their renderer.

A notification row stores what happened (its payload), not the words: the words
are chosen when it is shown or sent, in the borrower's language at that time.
Each file's first line is the subject and the rest the body; the context is the
payload plus ``product``, ``product_name`` and ``business_date``. Undefined names
are errors (``StrictUndefined``): a payload that lacks a field the words need must
fail loudly rather than tell a borrower a blank.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from crossline.money import format_fen

LANGUAGES = ("zh", "en")
"""Chinese first (the default), then English."""

DEFAULT_LANGUAGE = "zh"

NOTIFICATION_KINDS = (
    "application_decision",
    "limit_changed",
    "pre_report_notice",
    "due_reminder",
    "overdue_notice",
    "dispute_answered",
    "extension_offered",
    "extension_approved",
    "waiver_granted",
    "settled",
    "recovery_received",
    "promise_recorded",
    "promise_broken",
    "early_warning",
    "autodebit_succeeded",
    "autodebit_failed",
    "plan_offered",
    "plan_started",
    "plan_broken",
    "plan_completed",
)
"""Every kind a notification may have; each has a template in every language."""

PRODUCT_NAMES = {
    "zh": {"huabei": "花呗", "jiebei": "借呗", "weilidai": "微粒贷", "fenqile": "分期乐"},
    "en": {"huabei": "Huabei", "jiebei": "Jiebei", "weilidai": "Weilidai", "fenqile": "Fenqile"},
}
"""How the catalog's products are called in each language; another product keeps its id."""


def percent(fraction: str) -> str:
    """An APR stored as a fraction ("0.1825") as borrowers read it ("18.25%")."""
    return f"{(Decimal(fraction) * 100).quantize(Decimal('0.01'))}%"


_ENVIRONMENT = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_ENVIRONMENT.filters["fen"] = format_fen
_ENVIRONMENT.filters["percent"] = percent


class UnknownNotificationError(ValueError):
    """A kind or language that has no template."""


def render(
    kind: str,
    lang: str,
    payload: dict[str, Any],
    product: str | None,
    business_date: date,
) -> tuple[str, str]:
    """The notification's (subject, body) in ``lang``."""
    if lang not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        raise UnknownNotificationError(f"language: expected one of {known}, got {lang!r}")
    if kind not in NOTIFICATION_KINDS:
        raise UnknownNotificationError(f"kind: no template for {kind!r}")
    subject, body = _templates(kind, lang)
    names = PRODUCT_NAMES[lang]
    context = payload | {
        "product": product,
        "product_name": None if product is None else names.get(product, product),
        "business_date": business_date.isoformat(),
    }
    return subject.render(context).strip(), body.render(context).strip()


@functools.cache
def _templates(kind: str, lang: str) -> tuple[jinja2.Template, jinja2.Template]:
    """The subject line and the body of a kind's file, compiled apart (so that a block
    tag closing the subject line cannot swallow the line break between them)."""
    source = (Path(__file__).parent / lang / f"{kind}.txt").read_text(encoding="utf-8")
    subject, _, body = source.partition("\n")
    return _ENVIRONMENT.from_string(subject), _ENVIRONMENT.from_string(body)
