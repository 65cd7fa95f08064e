"""API keys: how a provider's system authenticates.

A key is shown once, at creation, as ``clk_<key_id>_<secret>``. The key id is
public (it names the key in the audit log and in ``crossline access revoke``);
the secret is 32 random bytes of which only an argon2id hash is stored, so a
copy of the database lets no one call the API.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crossline.catalog import Catalog, CatalogError
from crossline.security import hashing, throttle
from crossline.security.moments import now_utc
from crossline.security.principals import Principal
from crossline.servicing.errors import InputError
from crossline.store.schema import api_keys

_TOKEN = re.compile(r"clk_(?P<key_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})")
"""``token_hex(8)`` and ``token_urlsafe(32)`` as ``create_api_key`` makes them."""


def create_api_key(conn: sa.Connection, provider: str, catalog: Catalog) -> str:
    """Create a key bound to ``provider`` and its lender group; return the token.

    The token is returned once and never stored: lose it and make a new key.
    """
    try:
        lender_group = catalog.provider(provider).group
    except CatalogError as exc:
        raise InputError("provider", str(exc)) from exc
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(
        sa.insert(api_keys).values(
            key_id=key_id,
            provider=provider,
            lender_group=lender_group,
            secret_hash=hashing.hash_secret(secret),
            created_at=now_utc(),
        )
    )
    return f"clk_{key_id}_{secret}"


def revoke_api_key(conn: sa.Connection, key_id: str) -> None:
    """Revoke a key from now on; revoking a revoked key keeps its first revocation time."""
    found = conn.execute(
        sa.select(api_keys.c.revoked_at).where(api_keys.c.key_id == key_id)
    ).first()
    if found is None:
        raise InputError("key_id", f"no API key {key_id!r}")
    if found.revoked_at is None:
        conn.execute(
            sa.update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now_utc())
        )
    _VERIFIED.forget_key(key_id)


def authenticate_api_key(conn: sa.Connection, token: str, now: datetime) -> Principal | None:
    """The provider a token stands for; None if it is malformed, unknown, revoked or wrong.

    Checking an argon2 hash costs tens of milliseconds, and the API serves a
    thousand requests a second, so a token that passed the check once is
    remembered (``_VerifiedTokens``) and the next request costs one primary-key
    read. This is safe because:

    - the cache is keyed by the SHA-256 of the whole token, never the token:
      a hit needs the very token that passed argon2, and a memory dump shows
      only digests of 256-bit random strings, which cannot be reversed (argon2's
      slowness protects guessable secrets; these are not guessable);
    - the key's row is read on every call, hit or miss: a key revoked by any
      process (the CLI, another API worker) is refused at once, and a hit counts
      only while the row still holds the argon2 hash it was verified against;
    - ``revoke_api_key`` also drops the key's entries in this process, the cache
      is bounded, and a token that fails is never remembered.

    A wrong secret for a real key counts towards the throttle (``security.throttle``):
    past it, the key id is refused (``TooManyAttemptsError``) without an argon2 check,
    so wrong secrets cannot keep the server's cores busy. The caller commits the
    failures it records.
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    key_id = match["key_id"]
    row = conn.execute(
        sa.select(
            api_keys.c.provider,
            api_keys.c.lender_group,
            api_keys.c.secret_hash,
            api_keys.c.revoked_at,
        ).where(api_keys.c.key_id == key_id)
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    digest = hashing.token_digest(token)
    if _VERIFIED.verified_hash(digest) != row.secret_hash:
        subject = f"key:{key_id}"
        throttle.check(conn, subject, now)
        if not hashing.secret_matches(row.secret_hash, match["secret"]):
            throttle.record_failure(conn, subject, now)
            return None
        _VERIFIED.remember(digest, key_id, row.secret_hash)
    return Principal(
        role="provider", subject=key_id, provider=row.provider, lender_group=row.lender_group
    )


@dataclass(frozen=True, slots=True)
class _Verified:
    key_id: str
    secret_hash: str


class _VerifiedTokens:
    """Digests of tokens that passed argon2, least recently used first out.

    Thread-safe: the API may authenticate from several worker threads.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def verified_hash(self, digest: str) -> str | None:
        """The argon2 hash the token with this digest passed, if it did."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            self._entries.move_to_end(digest)
            return entry.secret_hash

    def remember(self, digest: str, key_id: str, secret_hash: str) -> None:
        with self._lock:
            self._entries[digest] = _Verified(key_id, secret_hash)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def forget_key(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.key_id == key_id]:
                del self._entries[digest]


_VERIFIED = _VerifiedTokens(capacity=4096)
