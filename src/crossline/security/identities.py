"""Borrowers' identities (name, national ID, phone), stored encrypted.

Each value is sealed with the borrower and the field as its context, so a
value copied to another row or column does not decrypt. The national ID is
also stored as a keyed hash, unique across borrowers: one person, one
borrower record, found by the ID without decrypting anything. ``rotate_key``
moves every identity to a new master key at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crossline.security.national_ids import validate_national_id
from crossline.security.pii import PiiCipher, PiiDecryptionError
from crossline.servicing.errors import InputError
from crossline.store import platform
from crossline.store.schema import borrower_identities, borrowers

MAX_NAME_LENGTH = 64
_PHONE = re.compile(r"1\d{10}")
"""A mainland mobile number: 11 digits, the first 1."""
_FIELDS = ("name", "national_id", "phone")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a borrower is, decrypted."""

    name: str
    national_id: str
    phone: str


def save_identity(
    conn: sa.Connection,
    cipher: PiiCipher,
    borrower_id: str,
    *,
    name: str,
    national_id: str,
    phone: str,
) -> None:
    """Store (or replace) a registered borrower's identity, encrypted.

    Refused, naming the field, when a value is malformed, the borrower is not
    registered, or the national ID already belongs to another borrower.
    """
    identity = Identity(
        _checked_name(name), validate_national_id(national_id), _checked_phone(phone)
    )
    _require_borrower(conn, borrower_id)
    lookup = cipher.lookup_hash(identity.national_id)
    holder = _holder_of(conn, lookup)
    if holder is not None and holder != borrower_id:
        raise InputError("national_id", "already registered to another borrower")
    values = {"shard": platform.shard_of(borrower_id), **_sealed(cipher, borrower_id, identity)}
    t = borrower_identities
    exists = conn.execute(sa.select(t.c.borrower_id).where(t.c.borrower_id == borrower_id)).first()
    if exists is None:
        conn.execute(sa.insert(t).values(borrower_id=borrower_id, **values))
    else:
        conn.execute(sa.update(t).where(t.c.borrower_id == borrower_id).values(**values))


def read_identity(conn: sa.Connection, cipher: PiiCipher, borrower_id: str) -> Identity | None:
    """The borrower's identity, decrypted; None if none was saved."""
    t = borrower_identities
    row = conn.execute(
        sa.select(t.c.name_enc, t.c.national_id_enc, t.c.phone_enc).where(
            t.c.borrower_id == borrower_id
        )
    ).first()
    if row is None:
        return None
    return _opened(cipher, borrower_id, row._mapping)


def _sealed(cipher: PiiCipher, borrower_id: str, identity: Identity) -> dict[str, Any]:
    """The stored columns of an identity: each field sealed, and the national ID's lookup."""
    return {
        "national_id_hash": cipher.lookup_hash(identity.national_id),
        **{
            f"{field}_enc": cipher.encrypt(
                getattr(identity, field), context=_context(borrower_id, field)
            )
            for field in _FIELDS
        },
    }


def _opened(cipher: PiiCipher, borrower_id: str, row: Mapping[Any, Any]) -> Identity:
    """The identity a stored row seals; a row that does not open names its borrower."""
    try:
        opened = {
            field: cipher.decrypt(bytes(row[f"{field}_enc"]), context=_context(borrower_id, field))
            for field in _FIELDS
        }
    except PiiDecryptionError as exc:
        raise PiiDecryptionError(f"borrower {borrower_id!r}: {exc}") from exc
    return Identity(**opened)


def find_by_national_id(conn: sa.Connection, cipher: PiiCipher, national_id: str) -> str | None:
    """The borrower holding this national ID, if any; a malformed ID is an input error."""
    return _holder_of(conn, cipher.lookup_hash(validate_national_id(national_id)))


ROTATION_BATCH = 1_000
"""Identities re-sealed per read: memory stays flat however many borrowers there are."""


def rotate_key(conn: sa.Connection, old: PiiCipher, new: PiiCipher) -> int:
    """Re-seal every identity under ``new`` and recompute its lookup hash; returns how many.

    Runs in the caller's transaction, so a book is never half under one key: an
    identity that does not open with ``old`` stops the rotation (``PiiDecryptionError``
    naming the borrower) and the rollback leaves every row as it was. Rows are read in
    borrower-id order a batch at a time.
    """
    t = borrower_identities
    rotated = 0
    after = ""
    while True:
        rows = conn.execute(
            sa.select(t.c.borrower_id, t.c.name_enc, t.c.national_id_enc, t.c.phone_enc)
            .where(t.c.borrower_id > after)
            .order_by(t.c.borrower_id)
            .limit(ROTATION_BATCH)
        ).all()
        if not rows:
            return rotated
        for row in rows:
            identity = _opened(old, row.borrower_id, row._mapping)
            conn.execute(
                sa.update(t)
                .where(t.c.borrower_id == row.borrower_id)
                .values(_sealed(new, row.borrower_id, identity))
            )
        rotated += len(rows)
        after = rows[-1].borrower_id


def _holder_of(conn: sa.Connection, lookup: str) -> str | None:
    t = borrower_identities
    found: str | None = conn.execute(
        sa.select(t.c.borrower_id).where(t.c.national_id_hash == lookup)
    ).scalar_one_or_none()
    return found


def _context(borrower_id: str, field: str) -> str:
    return f"borrower_identities/{borrower_id}/{field}"


def _checked_name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= MAX_NAME_LENGTH:
        raise InputError("name", f"expected 1 to {MAX_NAME_LENGTH} characters")
    return cleaned


def _checked_phone(phone: str) -> str:
    cleaned = phone.strip()
    if _PHONE.fullmatch(cleaned) is None:
        raise InputError("phone", "expected 11 digits starting with 1")
    return cleaned


def _require_borrower(conn: sa.Connection, borrower_id: str) -> None:
    known = conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
    ).first()
    if known is None:
        raise InputError("borrower_id", f"{borrower_id!r} is not registered")
