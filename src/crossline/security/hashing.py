"""The one-way hashes kept in place of secrets.

API key secrets and passwords are hashed with argon2id (``argon2-cffi``),
which is slow on purpose so that a stolen table cannot be brute-forced.
Session tokens and the keys of the verified-token cache use SHA-256: they are
32 random bytes, which no guessing can reach, so a fast hash loses nothing and
a session check stays a single index seek.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SECRET_HASHER = PasswordHasher()
"""argon2id with the library's defaults (RFC 9106's low-memory profile).

Read at each call, so a test may swap in cheaper parameters: at the defaults
one hash takes 0.2 to 0.9 s on the 2-core CI machine, which a test file that
creates dozens of keys and users cannot afford."""


def hash_secret(secret: str) -> str:
    """The argon2id hash to store for ``secret``."""
    return SECRET_HASHER.hash(secret)


def secret_matches(stored_hash: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``stored_hash`` was made from."""
    try:
        return SECRET_HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than the ones in force now."""
    return SECRET_HASHER.check_needs_rehash(stored_hash)


def spend_like_a_check(secret: str) -> None:
    """Take as long as checking a secret does, and find nothing.

    A log-in for an unknown login must not answer faster than one with a wrong
    password, or the timing alone would tell which logins exist.
    """
    secret_matches(_decoy_hash(SECRET_HASHER), secret)


@lru_cache(maxsize=2)
def _decoy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("crossline decoy: matches no secret anyone is given")


def token_digest(token: str) -> str:
    """SHA-256 of a random token, hex: how a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
