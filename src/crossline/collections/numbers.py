"""The number a contact dialled, as the records keep it: never the number itself.

A phone number is personal information. The six-calls rule only has to tell
whether two calls went to the same number, so a contact keeps a keyed hash
(HMAC under the PII key, as a national ID's lookup is) and no one reading
the database can recover or enumerate numbers from it. A contact that names
no number dialled the party's number on file, kept as ``on_file:<party>``.
"""

from __future__ import annotations

import os
import re

from crossline.security.pii import KEY_VARIABLE, PiiCipher
from crossline.servicing.errors import InputError, RefusedError

_PHONE = re.compile(r"\+?\d{5,15}")
_DOMAIN = "collections/number/"
"""Prefixed to a number before hashing, so its hash never equals a national ID's."""


def env_cipher() -> PiiCipher | None:
    """The PII cipher when ``CROSSLINE_PII_KEY`` is set (the API passes its own)."""
    return PiiCipher.from_env() if os.environ.get(KEY_VARIABLE) else None


def number_key(cipher: PiiCipher | None, party: str, number: str | None) -> str:
    """What a contact record keeps for the number dialled."""
    if number is None:
        return f"on_file:{party}"
    cleaned = number.replace(" ", "").replace("-", "")
    if _PHONE.fullmatch(cleaned) is None:
        raise InputError("number", "expected a phone number of 5 to 15 digits")
    if cipher is None:
        raise RefusedError(
            "pii_key_missing",
            f"number: a number dialled is kept only as a keyed hash and {KEY_VARIABLE} is not "
            "set; leave the number out to record a call to the number on file",
        )
    return "h:" + cipher.lookup_hash(_DOMAIN + cleaned)
