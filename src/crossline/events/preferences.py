"""How a borrower wants to be told: their language, and their e-mail address.

The language is a setting any command may change (``set_language``); a borrower
without a row reads Chinese. The e-mail address is personal information, so it is
sealed as the identity is (``security.identities``: the borrower and the field are
the context, so a sealed value copied to another row does not open) and set only
where the platform's PII key is at hand (the API), never through a scenario.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from crossline.events.templates import DEFAULT_LANGUAGE, LANGUAGES
from crossline.security.pii import PiiCipher, PiiDecryptionError
from crossline.servicing.context import Context, require_borrower
from crossline.servicing.errors import InputError
from crossline.store import platform
from crossline.store.schema import borrowers, notification_settings

MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
"""One @, something on each side, a dot in the domain: enough to catch a mistyped field
without refusing an address a mail server would take."""


def set_language(ctx: Context, borrower_id: str, language: str) -> dict[str, Any]:
    """Choose the language the borrower's notifications are written in."""
    if language not in LANGUAGES:
        raise InputError("language", f"expected one of {', '.join(LANGUAGES)}, got {language!r}")
    require_borrower(ctx, borrower_id)
    _upsert(ctx.conn, borrower_id, {"language": language})
    return {"borrower": borrower_id, "language": language}


def languages_of(conn: sa.Connection, borrower_ids: Iterable[str]) -> dict[str, str]:
    """Each borrower's language (the default for one who never chose)."""
    wanted = sorted(set(borrower_ids))
    t = notification_settings.c
    rows = conn.execute(sa.select(t.borrower_id, t.language).where(t.borrower_id.in_(wanted)))
    chosen = {row.borrower_id: row.language for row in rows}
    return {borrower: str(chosen.get(borrower, DEFAULT_LANGUAGE)) for borrower in wanted}


def save_email(conn: sa.Connection, cipher: PiiCipher, borrower_id: str, email: str) -> None:
    """Store the borrower's e-mail address, sealed; refused naming ``email`` when malformed."""
    cleaned = email.strip()
    if len(cleaned) > MAX_EMAIL_LENGTH or _EMAIL.fullmatch(cleaned) is None:
        raise InputError("email", "expected an address like name@example.com")
    found = conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
    ).first()
    if found is None:
        raise InputError("borrower_id", f"{borrower_id!r} is not registered")
    sealed = cipher.encrypt(cleaned, context=_context(borrower_id))
    _upsert(conn, borrower_id, {"email_enc": sealed})


def read_emails(
    conn: sa.Connection, cipher: PiiCipher, borrower_ids: Iterable[str]
) -> dict[str, str]:
    """The e-mail address of each of the borrowers who gave one, opened."""
    t = notification_settings.c
    rows = conn.execute(
        sa.select(t.borrower_id, t.email_enc).where(
            t.borrower_id.in_(sorted(set(borrower_ids))), t.email_enc.is_not(None)
        )
    )
    return {row.borrower_id: _opened(cipher, row.borrower_id, row.email_enc) for row in rows}


def rotate_emails(conn: sa.Connection, old: PiiCipher, new: PiiCipher) -> int:
    """Re-seal every stored e-mail address under ``new`` (with ``rotate_key``, in its
    transaction: an address that does not open stops the rotation); returns how many."""
    t = notification_settings.c
    rows = conn.execute(
        sa.select(t.borrower_id, t.email_enc)
        .where(t.email_enc.is_not(None))
        .order_by(t.borrower_id)
    ).all()
    for row in rows:
        email = _opened(old, row.borrower_id, row.email_enc)
        conn.execute(
            sa.update(notification_settings)
            .where(t.borrower_id == row.borrower_id)
            .values(email_enc=new.encrypt(email, context=_context(row.borrower_id)))
        )
    return len(rows)


def _upsert(conn: sa.Connection, borrower_id: str, values: dict[str, Any]) -> None:
    t = notification_settings
    found = conn.execute(sa.select(t.c.borrower_id).where(t.c.borrower_id == borrower_id)).first()
    if found is None:
        row = {
            "borrower_id": borrower_id,
            "shard": platform.shard_of(borrower_id),
            "language": DEFAULT_LANGUAGE,
        }
        conn.execute(sa.insert(t).values(row | values))
    else:
        conn.execute(sa.update(t).where(t.c.borrower_id == borrower_id).values(values))


def _opened(cipher: PiiCipher, borrower_id: str, sealed: bytes) -> str:
    try:
        return cipher.decrypt(bytes(sealed), context=_context(borrower_id))
    except PiiDecryptionError as exc:
        raise PiiDecryptionError(f"borrower {borrower_id!r}: {exc}") from exc


def _context(borrower_id: str) -> str:
    return f"notification_settings/{borrower_id}/email"
