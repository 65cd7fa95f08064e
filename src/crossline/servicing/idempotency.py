"""Idempotent commands: a replayed key returns the first result and writes nothing.

The key, a hash of the request and the response are stored in the same
transaction as the command's effects, so either both exist or neither does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from crossline.servicing.context import Context
from crossline.servicing.errors import RefusedError
from crossline.store.schema import idempotency_keys


def request_hash(request: dict[str, Any]) -> str:
    """A stable fingerprint of the request body."""
    canonical = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_once(
    ctx: Context,
    key: str,
    borrower_id: str,
    command: str,
    request: dict[str, Any],
    action: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """Run ``action`` unless ``key`` was seen; returns (response, replayed)."""
    fingerprint = request_hash({"command": command, **request})
    seen = ctx.conn.execute(
        sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.response).where(
            idempotency_keys.c.key == key
        )
    ).first()
    if seen is not None:
        if seen.request_hash != fingerprint:
            raise RefusedError(
                "idempotency_conflict",
                f"idempotency key {key!r} was already used for a different request",
            )
        return json.loads(seen.response), True
    response = action()
    ctx.conn.execute(
        sa.insert(idempotency_keys).values(
            key=key,
            borrower_id=borrower_id,
            shard=ctx.shard(borrower_id),
            command=command,
            request_hash=fingerprint,
            response=json.dumps(response, sort_keys=True, default=str),
            business_date=ctx.today,
        )
    )
    return response, False
