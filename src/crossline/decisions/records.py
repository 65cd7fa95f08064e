"""Stored decisions: what was decided, by which policy version, on what, and why.

A decision row is enough to explain the outcome to the borrower (the reasons,
in plain language with their codes) and to replay it for a regulator or a
backtest (the inputs exactly as the policy saw them, the outputs it gave, the
version and arm). Decimal outputs are kept as text so that nothing is rounded
on the way to JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from crossline.store.ids import allocate_ids
from crossline.store.inserts import Inserts, insert_rows
from crossline.store.schema import decisions

MAX_REASONS = 4
"""Reasons given with a decision, most important first (adverse-action practice)."""


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored in a decision")


def as_json(value: Any) -> str:
    """Inputs and outputs as stored: sorted keys, Decimals and dates as text."""
    return json.dumps(value, default=_plain, sort_keys=True, ensure_ascii=False)


def reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([asdict(r) for r in reasons], ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    borrower_id: str
    shard: int
    lender_group: str
    product: str | None
    credit_line_id: int | None
    application_id: int | None
    kind: str
    business_date: date
    policy_version: str
    arm: str
    outcome: str
    score: int | None
    reasons: tuple[Reason, ...]
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]


_INSERT = decisions.insert()


def record_decision(
    conn: sa.Connection,
    record: DecisionRecord,
    decision_id: int | None = None,
    later: Inserts | None = None,
) -> int:
    """Append the decision; returns its id: ``decision_id`` when the command reserved it
    with its other ids (``store.ids.allocate_many``), else one taken here; ``later``: as
    for ``store.numbered.append_rows``."""
    if decision_id is None:
        decision_id = allocate_ids(conn, "decision", 1)
    row = {
        "decision_id": decision_id,
        "borrower_id": record.borrower_id,
        "shard": record.shard,
        "lender_group": record.lender_group,
        "product": record.product,
        "credit_line_id": record.credit_line_id,
        "application_id": record.application_id,
        "kind": record.kind,
        "business_date": record.business_date,
        "policy_version": record.policy_version,
        "arm": record.arm,
        "outcome": record.outcome,
        "score": record.score,
        "reasons": reasons_json(record.reasons[:MAX_REASONS]),
        "inputs": as_json(record.inputs),
        "outputs": as_json(record.outputs),
    }
    insert_rows(conn, _INSERT, [row], later)
    return decision_id
