"""People who log in: borrowers to the portal, operators and risk admins to the console.

Providers' systems are not users: they authenticate with API keys
(``api_keys``). A user is bound to what it may see when it is created: a
borrower to its borrower record, console staff to the lender group whose
view they work in.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from crossline.catalog import catalog_from_json
from crossline.security import hashing
from crossline.security.moments import now_utc
from crossline.servicing.errors import InputError
from crossline.store import platform
from crossline.store.schema import borrowers, users

USER_ROLES = ("borrower", "operator", "risk_admin")
MIN_PASSWORD_LENGTH = 10
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")


def create_user(
    conn: sa.Connection,
    login: str,
    password: str,
    role: str,
    *,
    borrower_id: str | None = None,
    lender_group: str | None = None,
) -> None:
    """Add a user; every input is checked before anything is written.

    A borrower needs an existing ``borrower_id``; an operator or risk admin a
    ``lender_group`` of the book's catalog; a password needs at least
    ``MIN_PASSWORD_LENGTH`` characters (NIST SP 800-63B's floor is 8; a lender's
    console deserves more).
    """
    _check_login(conn, login)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("password", f"expected at least {MIN_PASSWORD_LENGTH} characters")
    _check_scope(conn, role, borrower_id, lender_group)
    conn.execute(
        sa.insert(users).values(
            login=login,
            role=role,
            password_hash=hashing.hash_secret(password),
            borrower_id=borrower_id,
            lender_group=lender_group,
            created_at=now_utc(),
        )
    )


def _check_login(conn: sa.Connection, login: str) -> None:
    if _LOGIN.fullmatch(login) is None:
        raise InputError(
            "login",
            "expected 3 to 64 letters, digits or . _ @ -, starting with a letter or digit",
        )
    taken = conn.execute(sa.select(users.c.login).where(users.c.login == login)).first()
    if taken is not None:
        raise InputError("login", f"{login!r} is taken")


def _check_scope(
    conn: sa.Connection, role: str, borrower_id: str | None, lender_group: str | None
) -> None:
    """The role is known and bound to exactly what it needs."""
    if role == "provider":
        raise InputError("role", "providers authenticate with API keys (crossline access key)")
    if role not in USER_ROLES:
        raise InputError("role", f"expected one of {', '.join(USER_ROLES)}, got {role!r}")
    if role == "borrower":
        if lender_group is not None:
            raise InputError("lender_group", "a borrower is bound to a borrower, not a group")
        _check_borrower(conn, borrower_id)
        return
    if borrower_id is not None:
        raise InputError("borrower_id", f"a {role} is bound to a lender group, not a borrower")
    _check_group(conn, lender_group)


def _check_borrower(conn: sa.Connection, borrower_id: str | None) -> None:
    if borrower_id is None:
        raise InputError("borrower_id", "a borrower user needs the borrower it is")
    known = conn.execute(
        sa.select(borrowers.c.borrower_id).where(borrowers.c.borrower_id == borrower_id)
    ).first()
    if known is None:
        raise InputError("borrower_id", f"{borrower_id!r} is not registered")


def _check_group(conn: sa.Connection, lender_group: str | None) -> None:
    if lender_group is None:
        raise InputError("lender_group", "console users need the lender group they work for")
    catalog = catalog_from_json(platform.catalog_json(conn))
    groups = sorted({p.group for p in catalog.providers})
    if lender_group not in groups:
        raise InputError(
            "lender_group", f"unknown group {lender_group!r}; known: {', '.join(groups)}"
        )
