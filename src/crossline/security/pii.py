"""PII at rest: the cipher for borrowers' name, national ID and phone.

The master key comes from the environment (``CROSSLINE_PII_KEY``), never from
the database, so a copy of the database alone reveals no identity. Values are
sealed with AES-256-GCM, which also detects any change to a stored value; the
national ID is also kept as an HMAC-SHA256 under a key derived from the master
key, so that a borrower can be found by it without decrypting every row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_VARIABLE = "CROSSLINE_PII_KEY"
NEW_KEY_VARIABLE = "CROSSLINE_NEW_PII_KEY"
"""The key ``crossline access rotate-pii-key`` moves every identity to."""
_NONCE_BYTES = 12
"""96 bits, the size GCM is specified for; random per value (NIST SP 800-38D §8.2.2)."""
_LOOKUP_INFO = b"crossline/pii/national-id-lookup/v1"


class PiiKeyError(ValueError):
    """``CROSSLINE_PII_KEY`` is missing or is not a key; the message never shows its value."""


class PiiDecryptionError(ValueError):
    """A stored value does not open with this key: altered, moved, or sealed with another key."""


class PiiCipher:
    """Seals and opens PII with one master key, and computes national ID lookup hashes."""

    __slots__ = ("_aead", "_lookup_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise PiiKeyError(f"{KEY_VARIABLE}: expected 32 bytes of key, got {len(key)}")
        self._aead = AESGCM(key)
        self._lookup_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_LOOKUP_INFO
        ).derive(key)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] = os.environ, variable: str = KEY_VARIABLE
    ) -> PiiCipher:
        """The cipher for the key in ``variable`` (URL-safe base64 of 32 bytes)."""
        text = environ.get(variable)
        if not text:
            raise PiiKeyError(
                f"{variable}: not set; make a key with `crossline access pii-key` "
                "and keep it outside the database"
            )
        try:
            key = base64.b64decode(text, altchars=b"-_", validate=True)
        except binascii.Error as exc:
            raise PiiKeyError(
                f"{variable}: not URL-safe base64 (make one with `crossline access pii-key`)"
            ) from exc
        if len(key) != 32:
            raise PiiKeyError(f"{variable}: expected 32 bytes of key, got {len(key)}")
        return cls(key)

    def encrypt(self, text: str, *, context: str = "") -> bytes:
        """The nonce followed by the AES-GCM ciphertext of ``text``.

        ``context`` (e.g. the borrower and field) is authenticated with the value:
        a value copied to another borrower's row, or to another field, will not
        open there.
        """
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, text.encode("utf-8"), context.encode("utf-8"))
        return nonce + sealed

    def decrypt(self, blob: bytes, *, context: str = "") -> str:
        """The text ``encrypt`` sealed with the same ``context``."""
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        try:
            opened = self._aead.decrypt(nonce, sealed, context.encode("utf-8"))
        except InvalidTag as exc:
            raise PiiDecryptionError(
                "cannot decrypt: the value was altered or moved, "
                f"or {KEY_VARIABLE} is not the key it was sealed with"
            ) from exc
        return opened.decode("utf-8")

    def lookup_hash(self, national_id: str) -> str:
        """HMAC-SHA256 of the national ID (check letter upper-cased), hex.

        Keyed, because national IDs are few and structured enough that a plain
        hash of every one could be computed and matched in an afternoon.
        """
        message = national_id.upper().encode("ascii")
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()


def generate_key() -> str:
    """A new master key as ``CROSSLINE_PII_KEY`` takes it."""
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")
