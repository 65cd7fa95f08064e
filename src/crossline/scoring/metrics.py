"""Discrimination and stability measures for training and model monitoring (numpy only).

Direction: ``auc`` and ``gini`` read their second argument as *higher is riskier*
(a probability of default). A crossline score is the other way round (higher is
safer): pass ``higher_is_riskier=False`` rather than negating it by hand. ``ks``
is the largest gap between the bad and good distributions, whichever way it
points, so it needs no direction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

PSI_FLOOR = 1e-4
"""Share given to an empty bin: without it one empty bin makes the PSI infinite."""


def _labelled(y_bad: npt.ArrayLike, values: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y_bad)
    numbers = np.asarray(values, dtype=np.float64)
    if labels.ndim != 1 or numbers.ndim != 1 or labels.shape != numbers.shape:
        raise ValueError(
            "y_bad and score_or_pd: expected two 1-D arrays of the same length, "
            f"got shapes {labels.shape} and {numbers.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y_bad: expected 0 (good) or 1 (bad) only")
    if np.isnan(numbers).any():
        raise ValueError("score_or_pd: expected numbers, got NaN")
    bad = labels.astype(bool)
    if bad.all() or not bad.any():
        raise ValueError("y_bad: expected both bad (1) and good (0) rows")
    return bad, numbers


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks where tied values share the mean of their positions."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], values.size]
    mean_rank = (starts + 1 + ends) / 2
    ranks = np.empty(values.size)
    ranks[order] = mean_rank[np.cumsum(first) - 1]
    return ranks


def auc(
    y_bad: npt.ArrayLike, score_or_pd: npt.ArrayLike, *, higher_is_riskier: bool = True
) -> float:
    """Probability that a random bad ranks riskier than a random good (ties count half).

    Mann–Whitney form on average ranks, so it is exact with ties and O(n log n).
    """
    bad, numbers = _labelled(y_bad, score_or_pd)
    risk = numbers if higher_is_riskier else -numbers
    ranks = _average_ranks(risk)
    bads = int(bad.sum())
    goods = bad.size - bads
    return float((ranks[bad].sum() - bads * (bads + 1) / 2) / (bads * goods))


def gini(
    y_bad: npt.ArrayLike, score_or_pd: npt.ArrayLike, *, higher_is_riskier: bool = True
) -> float:
    """Accuracy ratio, 2·AUC − 1: 0 is no discrimination, 1 perfect."""
    return 2 * auc(y_bad, score_or_pd, higher_is_riskier=higher_is_riskier) - 1


def ks(y_bad: npt.ArrayLike, score_or_pd: npt.ArrayLike) -> float:
    """Kolmogorov–Smirnov: the largest gap between the bads' and goods' cumulative shares.

    Only the last position of a run of tied values is a threshold, so ties never
    split between the two sides.
    """
    bad, numbers = _labelled(y_bad, score_or_pd)
    order = np.argsort(numbers, kind="mergesort")
    ordered = numbers[order]
    bad_sorted = bad[order]
    bad_share = np.cumsum(bad_sorted) / bad_sorted.sum()
    good_share = np.cumsum(~bad_sorted) / (~bad_sorted).sum()
    threshold = np.r_[ordered[1:] != ordered[:-1], True]
    return float(np.max(np.abs(bad_share - good_share)[threshold]))


def _finite(values: npt.ArrayLike, name: str) -> np.ndarray:
    numbers = np.asarray(values, dtype=np.float64)
    if numbers.ndim != 1 or numbers.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array, got shape {numbers.shape}")
    if not np.isfinite(numbers).all():
        raise ValueError(f"{name}: expected finite numbers, got NaN or infinity")
    return numbers


def _cut_points(expected: np.ndarray, bins: int | Sequence[float]) -> np.ndarray:
    if isinstance(bins, int):
        if bins < 2:
            raise ValueError(f"bins: expected at least 2, got {bins}")
        quantiles = np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1])
        return np.unique(quantiles)
    cuts = np.asarray(bins, dtype=np.float64)
    if cuts.ndim != 1 or cuts.size == 0 or not np.isfinite(cuts).all():
        raise ValueError("bins: expected a number of bins or a list of finite cut points")
    if (np.diff(cuts) <= 0).any():
        raise ValueError(f"bins: expected strictly increasing cut points, got {cuts.tolist()}")
    return cuts


def _shares(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=cuts.size + 1)
    return np.asarray(np.maximum(counts / values.size, PSI_FLOOR))


def psi(expected: npt.ArrayLike, actual: npt.ArrayLike, bins: int | Sequence[float] = 10) -> float:
    """Population stability index of ``actual`` against ``expected``: Σ (a − e)·ln(a / e).

    ``bins`` is either a number of quantile bins of ``expected`` or the cut points
    themselves (e.g. the score band floors ``[550, 600, 650, 700]``); bins are
    ``[cut_i, cut_i+1)`` with open ends, so every value lands in one. Rule of thumb:
    below 0.1 stable, 0.1–0.25 watch, above 0.25 shifted.
    """
    base = _finite(expected, "expected")
    current = _finite(actual, "actual")
    cuts = _cut_points(base, bins)
    e = _shares(base, cuts)
    a = _shares(current, cuts)
    return float(np.sum((a - e) * np.log(a / e)))
