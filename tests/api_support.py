"""What the API tests share: credentials as headers, and cheap secret hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from crossline.security import hashing

PASSWORD = "correct horse battery"


def bearer(token: str | None) -> dict[str, str]:
    """The header a client sends a session or API key in."""
    assert token is not None
    return {"Authorization": f"Bearer {token}"}


def cheap_secret_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its production cost takes up to a second a hash on a busy 2-core
    machine; test_security checks that setting, the API tests check access rules."""
    monkeypatch.setattr(hashing, "SECRET_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))
