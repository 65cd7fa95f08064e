"""A decision's inputs: the group's view of the borrower, scored, and the group's lines.

The features come from the same kernel as every score (``scoring.views``), in
the view of the deciding group only. The score is computed from the features
as the kernel gives them; the policy sees the ratios rounded to
``RATIO_PLACES`` places, so that a threshold such as ``> 0.6`` means the same
in zen-engine (decimal) and in the compiled Polars expression (binary float).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.decisions.contracts import RATIO_PLACES, VIEW_INPUTS
from crossline.scoring.scorecard import Scorecard, ScoreResult, score_row
from crossline.scoring.views import group_features
from crossline.store.schema import credit_lines

RATIOS = tuple(name for name, dtype in VIEW_INPUTS.items() if dtype.is_float())


def policy_view(features: pl.DataFrame) -> pl.DataFrame:
    """Features as a policy reads them: ratios rounded to ``RATIO_PLACES`` places."""
    return features.with_columns(pl.col(RATIOS).round(RATIO_PLACES))


@dataclass(frozen=True, slots=True)
class View:
    """One group's view of one borrower: the policy's view inputs and the full score."""

    inputs: dict[str, Any]
    score: ScoreResult


def borrower_view(
    conn: sa.Connection, group: str, borrower_id: str, as_of: date, card: Scorecard
) -> View:
    """Features and score of one borrower in ``group``'s view as of ``as_of``."""
    features = group_features(conn, group, as_of, [borrower_id])
    score = score_row(card, features.row(0, named=True))
    row = policy_view(features).row(0, named=True)
    inputs = {name: row[name] for name in VIEW_INPUTS if name in row}
    return View(inputs | {"score": score.score, "band": score.band}, score)


def group_lines(conn: sa.Connection, borrower_id: str, group: str) -> dict[str, int]:
    """The borrower's open lines with ``group``: how many, how many paused or frozen, and
    their limits added up (the exposure a group-wide borrower limit is measured by)."""
    c = credit_lines.c
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((c.status == "paused", 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((c.status == "frozen", 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(c.limit_fen), 0),
        ).where(c.borrower_id == borrower_id, c.lender_group == group, c.status != "closed")
    ).one()
    return {
        "group_lines": int(row[0]),
        "group_paused_lines": int(row[1]),
        "group_frozen_lines": int(row[2]),
        "group_limit_fen": int(row[3]),
    }
