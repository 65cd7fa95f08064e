"""Access: providers' API keys, users, the PII key, and checking the audit log.

Every change made here is written to the audit log as the operating-system
user who ran it, from this host, in the same transaction as the change.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.markup import escape

from crossline.catalog import catalog_from_json
from crossline.cli.common import (
    DatabaseOption,
    access_app,
    audit_app,
    err,
    existing_book,
    existing_database,
    fail,
)
from crossline.events.preferences import rotate_emails
from crossline.security import audit
from crossline.security.api_keys import create_api_key, revoke_api_key
from crossline.security.identities import rotate_key
from crossline.security.moments import now_utc
from crossline.security.pii import (
    KEY_VARIABLE,
    NEW_KEY_VARIABLE,
    PiiCipher,
    PiiDecryptionError,
    PiiKeyError,
    generate_key,
)
from crossline.security.users import create_user
from crossline.servicing.errors import InputError
from crossline.store import platform
from crossline.store.engine import upgrade
from crossline.store.schema import audit_log

PASSWORD_VARIABLE = "CROSSLINE_PASSWORD"


@access_app.command("key")
def access_key(
    provider: Annotated[str, typer.Option(help="Catalog provider, e.g. huabei.")],
    database: DatabaseOption = None,
) -> None:
    """Create an API key bound to a provider; print its token, which is shown only once."""
    with _book(database) as conn:
        catalog = catalog_from_json(platform.catalog_json(conn))
        try:
            token = create_api_key(conn, provider, catalog)
        except InputError as exc:
            raise fail(escape(str(exc))) from exc
        key_id = token.split("_")[1]
        _audit(conn, "api_key.create", key_id, {"provider": provider})
    err.print(f"API key {key_id} for {provider}: store the token now, it is not shown again")
    typer.echo(token)


@access_app.command("revoke")
def access_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after clk_).")],
    database: DatabaseOption = None,
) -> None:
    """Revoke an API key: every later request with it is refused."""
    with _book(database) as conn:
        try:
            revoke_api_key(conn, key_id)
        except InputError as exc:
            raise fail(escape(str(exc))) from exc
        _audit(conn, "api_key.revoke", key_id, {})
    typer.echo(f"revoked {key_id}")


@access_app.command("user")
def access_user(
    login: Annotated[str, typer.Option(help="The name the user logs in with.")],
    role: Annotated[str, typer.Option(help="borrower, operator or risk_admin.")],
    borrower: Annotated[
        str | None, typer.Option(help="Role borrower: the borrower id the user is.")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Roles operator, risk_admin: the lender group.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Create a user; the password comes from CROSSLINE_PASSWORD or a hidden prompt."""
    password = os.environ.get(PASSWORD_VARIABLE) or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with _book(database) as conn:
        try:
            create_user(conn, login, password, role, borrower_id=borrower, lender_group=group)
        except InputError as exc:
            raise fail(escape(str(exc))) from exc
        scope = {"borrower_id": borrower} if role == "borrower" else {"lender_group": group}
        _audit(conn, "user.create", login, {"role": role, **scope})
    typer.echo(f"created {role} {login}")


@access_app.command("pii-key")
def access_pii_key() -> None:
    """Print a new CROSSLINE_PII_KEY. Keep it outside the database: it opens every identity."""
    typer.echo(generate_key())


@access_app.command("rotate-pii-key")
def access_rotate_pii_key(database: DatabaseOption = None) -> None:
    """Re-seal every identity under CROSSLINE_NEW_PII_KEY (from CROSSLINE_PII_KEY), in one
    transaction; then give the servers the new key."""
    if os.environ.get(KEY_VARIABLE) == os.environ.get(NEW_KEY_VARIABLE):
        raise fail(f"{NEW_KEY_VARIABLE}: expected a key other than {KEY_VARIABLE}")
    try:
        old = PiiCipher.from_env()
        new = PiiCipher.from_env(variable=NEW_KEY_VARIABLE)
    except PiiKeyError as exc:
        raise fail(escape(str(exc))) from exc
    with _book(database) as conn:
        try:
            rotated = rotate_key(conn, old, new)
            emails = rotate_emails(conn, old, new)
        except PiiDecryptionError as exc:
            raise fail(escape(f"{KEY_VARIABLE}: {exc}")) from exc
        _audit(
            conn, "pii_key.rotate", "borrower_identities", {"identities": rotated, "emails": emails}
        )
    typer.echo(
        f"re-sealed {rotated} identities and {emails} e-mail addresses: "
        f"set {KEY_VARIABLE} to the new key now"
    )


@audit_app.command("verify")
def audit_verify(database: DatabaseOption = None) -> None:
    """Check every entry's number, hash and link; exit 1 naming the first one at fault."""
    engine = existing_database(database)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(audit_log.name):
                raise fail("database: has no audit log (its schema predates it)")
            check = audit.verify(conn)
    finally:
        engine.dispose()
    if not check.ok:
        raise fail(f"audit log damaged at seq {check.first_bad}: {check.problem}", 1)
    typer.echo(f"audit log intact: {check.entries} entries")


@contextmanager
def _book(database: str | None) -> Iterator[sa.Connection]:
    """One transaction on an existing book, its schema brought up to date first (as ``init``
    does): a book made before the security tables gets them on its first key or user."""
    engine = existing_book(database)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _audit(conn: sa.Connection, action: str, target: str, detail: Mapping[str, Any]) -> None:
    audit.record(
        conn,
        actor=_operator(),
        role="cli",
        action=action,
        target=target,
        source=f"cli@{socket.gethostname()}"[:64],
        detail=detail,
        at=now_utc(),
    )


def _operator() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return getpass.getuser()[:128]
    except (KeyError, OSError):
        return "unknown"
