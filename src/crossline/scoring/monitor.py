"""Model monitoring: is the population still the one the model was built on, and does
the model still rank it?

Stability compares the latest month-end snapshot with the first one scored by
the same model version: PSI of the score (deciles of the first month) and of
each characteristic (its scorecard bins, read as the points each row earned,
so a bin is exactly what the model distinguishes). Discrimination is AUC and
KS of the snapshot scores against matured 12-month outcomes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from crossline.scoring.book import TARGET, matured_snapshots, snapshots
from crossline.scoring.metrics import auc, ks, psi
from crossline.scoring.scorecard import Scorecard, points_frame
from crossline.store.schema import feature_snapshots

SCORE_BINS = 10


def _characteristic_psi(
    card: Scorecard, baseline: pl.DataFrame, current: pl.DataFrame
) -> dict[str, float]:
    before = points_frame(card, baseline)
    after = points_frame(card, current)
    result = {}
    for name in card.feature_names:
        cuts = np.unique(np.concatenate([before[name].to_numpy(), after[name].to_numpy()]))
        result[name] = round(psi(before[name].to_numpy(), after[name].to_numpy(), list(cuts)), 6)
    return result


def _discrimination(conn: sa.Connection, card: Scorecard, group: str | None) -> dict[str, Any]:
    matured = matured_snapshots(conn, group)
    if matured.is_empty():
        return {"rows": 0}
    matured = matured.filter(pl.col("model_version") == card.version)
    bad = matured[TARGET].to_numpy()
    if matured.is_empty() or bad.min() == bad.max():
        return {"rows": matured.height, "note": "needs both good and bad matured outcomes"}
    score = matured["score"].to_numpy()
    return {
        "rows": matured.height,
        "bad_rate": round(float(bad.mean()), 6),
        "auc": round(auc(bad, score, higher_is_riskier=False), 6),
        "ks": round(ks(bad, score), 6),
    }


def monitor(conn: sa.Connection, card: Scorecard, group: str | None = None) -> dict[str, Any]:
    """PSI of the score and of each characteristic, and AUC/KS on matured outcomes."""
    s = feature_snapshots.c
    where = s.model_version == card.version
    if group is not None:
        where = sa.and_(where, s.lender_group == group)
    frame = snapshots(conn, where)
    report: dict[str, Any] = {"model_version": card.version, "group": group or "all"}
    if frame.is_empty():
        return {**report, "note": "no month-end snapshots scored by this model yet"}
    periods = sorted(frame["period_end"].unique().to_list())
    baseline = frame.filter(pl.col("period_end") == periods[0])
    current = frame.filter(pl.col("period_end") == periods[-1])
    return {
        **report,
        "baseline": periods[0].isoformat(),
        "current": periods[-1].isoformat(),
        "rows": {"baseline": baseline.height, "current": current.height},
        "score_psi": round(
            psi(baseline["score"].to_numpy(), current["score"].to_numpy(), SCORE_BINS), 6
        ),
        "characteristic_psi": _characteristic_psi(card, baseline, current),
        "matured": _discrimination(conn, card, group),
    }
