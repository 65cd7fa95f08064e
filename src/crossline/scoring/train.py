"""Scorecard training with optbinning, exported to the JSON points table serving reads.

This is the only module that imports optbinning, scikit-learn and pandas (the
``train`` extra): serving reads the exported table (``scorecard.py``).

Pipeline: optimal binning of every column (solver-based; numeric columns with a
monotonic trend, ascending or descending as the data says, so points never zig-zag
with a feature), weight of evidence, logistic regression, PDO scaling. The card is
fitted on a stratified 70% and its hold-out metrics are those of the exported
card; ``cv_*`` are the mean of a 5-fold stratified cross-validation in which each
fold is binned and fitted afresh, which says how stable the procedure is.

Scaling (``SCALING``): 600 points at good:bad odds of 20:1, 50 points to double
the odds. The band floors then read as odds that double from band to band: 550 is
10:1 (9.1% bad), 600 is 20:1 (4.8%), 650 is 40:1 (2.4%), 700 is 80:1 (1.2%); the
ends of the scale are 0.625:1 (62% bad) at 350 and 2560:1 (0.04%) at 950. A
portfolio with a 3–6% bad rate therefore sits around 600, its good borrowers in
very good and excellent, and only the clearly risky reach poor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from optbinning import Scorecard as OptimalScorecard
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split

from crossline.scoring.metrics import auc, gini, ks
from crossline.scoring.scorecard import FORMAT, Scaling, Scorecard

SCALING = Scaling.from_pdo(pdo=50, odds=20, anchor_score=600)
HOLDOUT = 0.3
FOLDS = 5
MIN_ROWS = 100
MIN_PER_CLASS = 10
"""Fewer rows or bads than this leave a fold with a handful of bads: metrics would be noise."""


class TrainingError(ValueError):
    """The training data cannot give a scorecard; the message names the column."""


@dataclass(frozen=True)
class TrainingData:
    """Features ready for optbinning (text columns as str objects) and 0/1 bad labels."""

    features: pd.DataFrame
    bad: np.ndarray
    categorical: tuple[str, ...]


@dataclass(frozen=True)
class TrainResult:
    card: Scorecard
    metrics: dict[str, Any]


def read_csv(path: Path) -> pd.DataFrame:
    """A training table from CSV; pandas infers numbers and text column by column."""
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise TrainingError(f"data: no such file {path}") from None
    except (OSError, ValueError) as exc:
        raise TrainingError(f"data: cannot read {path} as CSV: {exc}") from exc


def _listing(values: pd.Series) -> str:
    distinct = sorted({str(v) for v in values.unique()})
    shown = ", ".join(repr(v) for v in distinct[:5])
    return shown + (f" and {len(distinct) - 5} more" if len(distinct) > 5 else "")


def _matches(values: pd.Series, bad: object) -> pd.Series:
    """``--bad`` arrives as text; a numeric target compares it as a number."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        try:
            number = float(str(bad))
        except ValueError:
            return pd.Series(False, index=values.index)
        return values == number
    return values.astype(str) == str(bad)


def _labels(frame: pd.DataFrame, target: str, bad: object | None) -> np.ndarray:
    if target not in frame.columns:
        raise TrainingError(
            f"target column {target!r} not found; columns are {', '.join(map(str, frame.columns))}"
        )
    values = frame[target]
    if values.empty:
        raise TrainingError(f"target column {target!r}: the table has no rows")
    if values.isna().any():
        raise TrainingError(
            f"target column {target!r}: {int(values.isna().sum())} rows have no value"
        )
    if bad is not None:
        is_bad = _matches(values, bad)
        if not is_bad.any():
            raise TrainingError(
                f"target column {target!r}: --bad value {bad!r} does not occur; "
                f"values are {_listing(values)}"
            )
    else:
        distinct = set(values.unique())
        if pd.api.types.is_numeric_dtype(values) and distinct <= {0, 1}:
            is_bad = values == 1
        elif len(distinct) == 2:
            raise TrainingError(
                f"target column {target!r} has values {_listing(values)}, not 0/1: "
                "pass --bad VALUE to say which one means bad"
            )
        elif len(distinct) > 2:
            raise TrainingError(
                f"target column {target!r}: expected two classes, got {len(distinct)} "
                f"values ({_listing(values)}); pass --bad VALUE to treat one as bad"
            )
        else:
            is_bad = values == 1
    labels = np.asarray(is_bad, dtype=np.int64)
    if labels.min() == labels.max():
        kind = "bad" if labels[0] else "good"
        raise TrainingError(
            f"target column {target!r} has a single class (every row is {kind}); "
            "training needs both bad and good rows"
        )
    return labels


def _features(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Numbers stay numbers; text and booleans become categories of ``str``.

    Serving looks categories up as strings, so they must be strings here too.
    """
    columns: dict[str, pd.Series] = {}
    categorical: list[str] = []
    for name in frame.columns:
        if name == target:
            continue
        values = frame[name]
        if values.isna().all():
            raise TrainingError(f"column {name!r}: every value is missing")
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns[str(name)] = values.astype(np.float64)
        elif (
            pd.api.types.is_object_dtype(values)
            or pd.api.types.is_string_dtype(values)
            or pd.api.types.is_bool_dtype(values)
        ):
            text = values.astype(str).where(values.notna(), np.nan)
            columns[str(name)] = text.astype(object)
            categorical.append(str(name))
        else:
            raise TrainingError(f"column {name!r}: expected numbers or text, got {values.dtype}")
    if not columns:
        raise TrainingError(f"no feature columns besides the target column {target!r}")
    return pd.DataFrame(columns, index=frame.index), tuple(categorical)


def prepare(frame: pd.DataFrame, target: str, bad: object | None) -> TrainingData:
    """Check the frame and split it into features and 0/1 labels (1 = bad)."""
    labels = _labels(frame, target, bad)
    features, categorical = _features(frame, target)
    bads = int(labels.sum())
    if labels.size < MIN_ROWS or min(bads, labels.size - bads) < MIN_PER_CLASS:
        raise TrainingError(
            f"target column {target!r}: too few rows to train and validate: {labels.size} "
            f"rows, {bads} bad (need {MIN_ROWS} rows and {MIN_PER_CLASS} of each class)"
        )
    return TrainingData(features=features, bad=labels, categorical=categorical)


def _fit_once(features: pd.DataFrame, bad: np.ndarray, categorical: Sequence[str]) -> Any:
    names = list(features.columns)
    trends = {n: {"monotonic_trend": "auto_asc_desc"} for n in names if n not in categorical}
    process = BinningProcess(
        names,
        categorical_variables=[n for n in names if n in categorical],
        binning_fit_params=trends,
    )
    model = OptimalScorecard(
        binning_process=process,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": SCALING.pdo,
            "odds": SCALING.odds,
            "scorecard_points": SCALING.anchor_score,
        },
    )
    return model.fit(features, bad, metric_missing="empirical", metric_special="empirical")


def fit_model(features: pd.DataFrame, bad: np.ndarray, categorical: Sequence[str]) -> Any:
    """Bin, fit and scale an optbinning scorecard whose every column points the right way.

    Weight of evidence is higher for safer bins, so each coefficient must be negative
    (on the bad log-odds). A positive one, from columns that overlap, would give more
    points for riskier values and adverse reasons that tell a borrower the opposite of
    the truth; the usual remedy is taken: drop the most positive column and refit
    until none is left. Missing values get their empirical weight of evidence (an
    absent history says something about risk), so the regression and the exported
    missing points agree.
    """
    model = _fit_once(features, bad, categorical)
    woe = model.binning_process_.transform(
        features, metric="woe", metric_special="empirical", metric_missing="empirical"
    )
    kept = [str(name) for name in model.binning_process_.get_support(names=True)]
    while True:
        # Binning is per column, so only the regression needs refitting while columns go.
        regression = LogisticRegression(max_iter=1000).fit(woe[kept], bad)
        coefficients = regression.coef_.ravel()
        worst = int(np.argmax(coefficients))
        if coefficients[worst] <= 0:
            break
        if len(kept) == 1:
            raise TrainingError(
                f"column {kept[0]!r} is the only one left and predicts the target the wrong "
                "way round: no scorecard can be built"
            )
        del kept[worst]
    if len(kept) == len(features.columns):
        return model
    return _fit_once(features[kept], bad, categorical)


def _default_reason(name: str) -> str:
    return f"Your {name.replace('_', ' ')}"


def export_card(model: Any, version: str, reasons: Mapping[str, str] | None = None) -> Scorecard:
    """The points table of a fitted optbinning scorecard, from ``table("detailed")``.

    Each variable's table has one row per bin, then ``Special`` (no special codes
    are configured, so nothing reaches it) and ``Missing``. Numeric edges come from
    the binning's exact splits, not the table's rounded labels.
    """
    table = model.table(style="detailed")
    process = model.binning_process_
    characteristics: list[dict[str, Any]] = []
    for name in process.get_support(names=True):
        rows = table[table["Variable"] == name]
        points = [round(float(p), 6) for p in rows["Points"]]
        bins, missing = points[:-2], points[-1]
        binning = process.get_binned_variable(name)
        entry: dict[str, Any] = {
            "name": str(name),
            "reason": (reasons or {}).get(str(name), _default_reason(str(name))),
            "missing_points": missing,
            "max_points": max([*bins, missing]),
        }
        if binning.dtype == "numerical":
            edges = [None, *(float(s) for s in binning.splits), None]
            entry["kind"] = "numeric"
            entry["bins"] = [
                {"lower": edges[i], "upper": edges[i + 1], "points": p} for i, p in enumerate(bins)
            ]
        else:
            entry["kind"] = "categorical"
            entry["unknown_points"] = missing
            entry["bins"] = [
                {"categories": [str(c) for c in categories], "points": p}
                for categories, p in zip(rows["Bin"], bins, strict=False)
            ]
        characteristics.append(entry)
    return Scorecard.model_validate(
        {
            "format": FORMAT,
            "version": version,
            "scaling": SCALING.model_dump(),
            "characteristics": characteristics,
        }
    )


def _measure(model: Any, features: pd.DataFrame, bad: np.ndarray) -> tuple[float, float, float]:
    score = model.score(features)
    return (
        auc(bad, score, higher_is_riskier=False),
        ks(bad, score),
        gini(bad, score, higher_is_riskier=False),
    )


def train_scorecard(
    frame: pd.DataFrame,
    target: str,
    bad: object | None,
    version: str,
    reasons: Mapping[str, str] | None,
    seed: int,
) -> TrainResult:
    """Train, validate and export a scorecard from any table with a bad/good target.

    ``bad`` given: rows whose target equals it are bad, all others good; otherwise
    the target must be 0/1 with 1 bad. ``reasons`` maps column names to the
    adverse-reason text (a column without one gets "Your <column>").
    """
    data = prepare(frame, target, bad)
    rows = np.arange(data.bad.size)
    train, test = train_test_split(rows, test_size=HOLDOUT, stratify=data.bad, random_state=seed)
    x = data.features
    model = fit_model(x.iloc[train], data.bad[train], data.categorical)
    card = export_card(model, version, reasons)
    holdout = _measure(model, x.iloc[test], data.bad[test])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    cv = np.mean(
        [
            _measure(
                fit_model(x.iloc[fit], data.bad[fit], data.categorical),
                x.iloc[check],
                data.bad[check],
            )
            for fit, check in folds.split(x, data.bad)
        ],
        axis=0,
    )
    names = ("auc", "ks", "gini")
    metrics: dict[str, Any] = {
        **{name: round(value, 6) for name, value in zip(names, holdout, strict=True)},
        **{f"cv_{name}": round(float(v), 6) for name, v in zip(names, cv, strict=True)},
        "scaling": SCALING.model_dump(include={"pdo", "odds", "anchor_score", "factor", "offset"}),
        "rows": int(data.bad.size),
        "bad_rate": round(float(data.bad.mean()), 6),
    }
    return TrainResult(card=card, metrics=metrics)
