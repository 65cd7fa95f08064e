"""Scorecard serving: the JSON points table, the batch and single-row paths, bands, reasons."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.scoring.metrics import auc
from crossline.scoring.scorecard import (
    SMALL_FRAME,
    Scorecard,
    ScorecardError,
    band,
    default_scorecard,
    points_frame,
    score_any,
    score_frame,
    score_row,
)
from crossline.scoring.synthetic import REASONS, TARGET, synthetic_history

SCALING = {
    "pdo": 50.0,
    "odds": 20.0,
    "anchor_score": 600.0,
    "factor": 72.134752,
    "offset": 383.903595,
    "min_score": 350,
    "max_score": 950,
}

# A tiny card whose points are easy to follow by hand. Maxima: a 150, b 120, c 100, d 100.
TINY: dict[str, Any] = {
    "format": "crossline-scorecard/1",
    "version": "tiny-1",
    "scaling": SCALING,
    "characteristics": [
        {
            "name": "a",
            "kind": "numeric",
            "reason": "A is high",
            "bins": [
                {"lower": None, "upper": 0.0, "points": 150.0},
                {"lower": 0.0, "upper": 10.0, "points": 130.0},
                {"lower": 10.0, "upper": None, "points": 100.0},
            ],
            "missing_points": 120.0,
            "max_points": 150.0,
        },
        {
            "name": "b",
            "kind": "numeric",
            "reason": "B is low",
            "bins": [
                {"lower": None, "upper": 2.5, "points": 90.0},
                {"lower": 2.5, "upper": None, "points": 120.0},
            ],
            "missing_points": 100.0,
            "max_points": 120.0,
        },
        {
            "name": "c",
            "kind": "categorical",
            "reason": "C is unusual",
            "bins": [
                {"categories": ["x", "y"], "points": 100.0},
                {"categories": ["z"], "points": 70.0},
            ],
            "missing_points": 80.0,
            "unknown_points": 80.0,
            "max_points": 100.0,
        },
        {
            "name": "d",
            "kind": "numeric",
            "reason": "D is short",
            "bins": [
                {"lower": None, "upper": 1.0, "points": 80.0},
                {"lower": 1.0, "upper": None, "points": 100.0},
            ],
            "missing_points": 99.5,
            "max_points": 100.0,
        },
    ],
}


def tiny_card() -> Scorecard:
    return Scorecard.model_validate(TINY)


def _frame(card: Scorecard, rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows as a frame with the dtypes the feature builder gives (NaN kept as NaN)."""
    schema = {
        c.name: pl.Float64 if c.kind == "numeric" else pl.String for c in card.characteristics
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _both(card: Scorecard, rows: list[dict[str, object]]) -> list[tuple[int, str, list[str]]]:
    """Score rows on both paths, check they agree, return (score, band, reasons)."""
    frame = score_frame(card, _frame(card, rows))
    batch = list(zip(frame["score"], frame["band"], frame["reasons"].to_list(), strict=True))
    single = []
    for row in rows:
        result = score_row(card, row)
        single.append((result.score, result.band, [r.code for r in result.reasons]))
    assert batch == single
    return single


# --- reasons -----------------------------------------------------------------------------


def test_reasons_by_hand_on_the_tiny_card() -> None:
    card = tiny_card()
    rows: list[dict[str, object]] = [
        # gaps: a 50 (bin [10, inf)), b 30, c 30 (z), d 20 -> b before c: card order at a tie
        {"a": 12, "b": 1, "c": "z", "d": 0},
        # everything at its maximum: no reason at all
        {"a": -1, "b": 3, "c": "x", "d": 5},
        # gaps: a 30 (missing), c 20 (unknown category), d 0.5 (missing); b at max
        {"a": None, "b": 2.5, "c": "w", "d": None},
        # gaps: a 20 (bin [0, 10) at its lower edge), c 20 (missing), b 20 (missing): ties
        {"a": 0.0, "b": math.nan, "c": None, "d": 1.0},
    ]
    results = [score_row(card, row) for row in rows]
    assert [[r.code for r in res.reasons] for res in results] == [
        ["a", "b", "c", "d"],
        [],
        ["a", "c", "d"],
        ["a", "b", "c"],
    ]
    assert [r.points_below_max for r in results[2].reasons] == [30.0, 20.0, 0.5]
    assert [r.text for r in results[0].reasons] == [
        "A is high",
        "B is low",
        "C is unusual",
        "D is short",
    ]
    # points: 100+90+70+80 = 340 -> clipped to 350; 150+120+100+100; 120+120+80+99.5 half up
    assert [res.points for res in results] == [340.0, 470.0, 419.5, 410.0]
    assert [res.score for res in results] == [350, 470, 420, 410]
    _both(card, rows)


def _reference(card_data: dict[str, Any], row: dict[str, object]) -> tuple[float, list[str]]:
    """The points and reasons of a row, read straight off the card's dict, independently."""
    total = 0.0
    gaps = []
    for index, c in enumerate(card_data["characteristics"]):
        value = row[c["name"]]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            points = c["missing_points"]
        elif c["kind"] == "numeric":
            (points,) = [
                b["points"]
                for b in c["bins"]
                if (b["lower"] is None or b["lower"] <= value)
                and (b["upper"] is None or value < b["upper"])
            ]
        else:
            found = [b["points"] for b in c["bins"] if value in b["categories"]]
            points = found[0] if found else c["unknown_points"]
        total += points
        if points < c["max_points"]:
            gaps.append((c["max_points"] - points, -index, c["name"]))
    gaps.sort(reverse=True)
    return total, [name for _gap, _index, name in gaps[:4]]


def _numbers(edges: list[float]) -> st.SearchStrategy[object]:
    near = st.sampled_from(edges).flatmap(
        lambda e: st.sampled_from([e, e - 1e-9, e + 1e-9, math.nextafter(e, -math.inf)])
    )
    return st.one_of(
        st.none(),
        st.just(math.nan),
        near,
        st.integers(-50, 50),
        st.floats(-1e6, 1e6, allow_nan=False),
    )


def _row_strategy(card: Scorecard) -> st.SearchStrategy[dict[str, object]]:
    fields: dict[str, st.SearchStrategy[object]] = {}
    for c in card.characteristics:
        if c.kind == "numeric":
            edges = [b.lower for b in c.bins if b.lower is not None] or [0.0]
            fields[c.name] = _numbers(edges)
        else:
            known = sorted({cat for b in c.bins for cat in b.categories})
            fields[c.name] = st.one_of(
                st.none(), st.sampled_from(known), st.sampled_from(["", "unseen", "YES"])
            )
    return st.fixed_dictionaries(fields)


@settings(max_examples=200, deadline=None)
@given(st.lists(_row_strategy(tiny_card()), min_size=1, max_size=20))
def test_tiny_card_matches_an_independent_reading(rows: list[dict[str, object]]) -> None:
    card = tiny_card()
    results = _both(card, rows)
    for row, (score, _band, reasons) in zip(rows, results, strict=True):
        total, expected = _reference(TINY, row)
        assert reasons == expected
        assert score == min(950, max(350, math.floor(total + 0.5)))


@settings(max_examples=60, deadline=None)
@given(st.lists(_row_strategy(default_scorecard()), min_size=1, max_size=40))
def test_batch_and_single_row_agree_on_the_default_card(rows: list[dict[str, object]]) -> None:
    card = default_scorecard()
    results = _both(card, rows)
    for row, (score, band_name, _reasons) in zip(rows, results, strict=True):
        assert score_row(card, row).points == pytest.approx(_reference(_dump(card), row)[0])
        assert band(score) == band_name


def _dump(card: Scorecard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(card.to_json())
    return data


# --- scores and bands --------------------------------------------------------------------


def _one_characteristic(totals: list[float]) -> Scorecard:
    """Bin i ([i, i+1)) gives exactly totals[i] points: a dial for the score."""
    bins = [
        {
            "lower": None if i == 0 else float(i),
            "upper": None if i == len(totals) - 1 else float(i + 1),
            "points": total,
        }
        for i, total in enumerate(totals)
    ]
    data = {
        "format": "crossline-scorecard/1",
        "version": "dial-1",
        "scaling": SCALING,
        "characteristics": [
            {
                "name": "s",
                "kind": "numeric",
                "reason": "S",
                "bins": bins,
                "missing_points": 0.0,
                "max_points": max(totals),
            }
        ],
    }
    return Scorecard.model_validate(data)


def test_score_is_rounded_half_up_then_clipped_and_banded() -> None:
    cases = [
        (-20.0, 350, "poor"),
        (349.0, 350, "poor"),
        (349.5, 350, "poor"),
        (350.0, 350, "poor"),
        (549.0, 549, "poor"),
        (549.499999, 549, "poor"),
        (549.5, 550, "fair"),
        (550.0, 550, "fair"),
        (599.0, 599, "fair"),
        (599.5, 600, "good"),
        (600.0, 600, "good"),
        (649.0, 649, "good"),
        (650.0, 650, "very_good"),
        (699.0, 699, "very_good"),
        (699.4, 699, "very_good"),
        (700.0, 700, "excellent"),
        (950.0, 950, "excellent"),
        (950.5, 950, "excellent"),
        (951.0, 950, "excellent"),
    ]
    card = _one_characteristic([total for total, _score, _band in cases])
    rows: list[dict[str, object]] = [{"s": float(i)} for i in range(len(cases))]
    assert _both(card, rows) == [
        (score, name, [] if total == max(t for t, _, _ in cases) else ["s"])
        for total, score, name in cases
    ]


def test_band_edges() -> None:
    assert [band(s) for s in (350, 549, 550, 599, 600, 649, 650, 699, 700, 950)] == [
        "poor",
        "poor",
        "fair",
        "fair",
        "good",
        "good",
        "very_good",
        "very_good",
        "excellent",
        "excellent",
    ]
    for outside in (349, 951):
        with pytest.raises(ValueError, match=f"score: expected 350–950, got {outside}"):
            band(outside)


def test_score_frame_keeps_the_input_and_types_its_columns() -> None:
    card = tiny_card()
    features = _frame(card, [{"a": 1, "b": 3, "c": "x", "d": 2}]).with_columns(
        pl.lit("b-1").alias("borrower_id")
    )
    scored = score_frame(card, features)
    assert scored.columns == [*features.columns, "score", "band", "reasons"]
    assert scored.schema["score"] == pl.Int32
    assert scored.schema["reasons"] == pl.List(pl.String)
    assert scored.row(0) == (1.0, 3.0, "x", 2.0, "b-1", 450, "poor", ["a"])
    empty = score_frame(card, features.clear())
    assert empty.height == 0 and empty.schema["score"] == pl.Int32


def test_frame_dtypes_from_the_feature_builder() -> None:
    """Int16 counts, nullable ints, Categorical text, NaN and null: all scored like a row."""
    card = tiny_card()
    features = pl.DataFrame(
        {
            "a": pl.Series([None, 3, 20], dtype=pl.Int16),
            "b": [math.nan, None, 2.5],
            "c": pl.Series(["z", None, "q"], dtype=pl.Categorical),
            "d": pl.Series([None, None, None], dtype=pl.Null),
        }
    )
    scored = score_frame(card, features)
    points = points_frame(card, features)
    assert points.rows() == [
        (120.0, 100.0, 70.0, 99.5),
        (130.0, 100.0, 80.0, 99.5),
        (100.0, 120.0, 80.0, 99.5),
    ]
    assert scored["score"].to_list() == [390, 410, 400]
    assert scored["reasons"].to_list() == [
        ["a", "c", "b", "d"],
        ["a", "b", "c", "d"],
        ["a", "c", "d"],
    ]


# --- errors ------------------------------------------------------------------------------


def test_features_errors_name_the_feature() -> None:
    card = tiny_card()
    good: dict[str, object] = {"a": 1, "b": 3, "c": "x", "d": 2}
    with pytest.raises(ScorecardError, match="features: missing 'c', needed by scorecard tiny-1"):
        score_row(card, {k: v for k, v in good.items() if k != "c"})
    with pytest.raises(ScorecardError, match=r"a: expected a number or None, got '1'"):
        score_row(card, {**good, "a": "1"})
    with pytest.raises(ScorecardError, match=r"a: expected a number or None, got True"):
        score_row(card, {**good, "a": True})
    with pytest.raises(ScorecardError, match=r"c: expected text \(a category\) or None, got 1"):
        score_row(card, {**good, "c": 1})
    frame = _frame(card, [good])
    with pytest.raises(ScorecardError, match=r"missing column\(s\) 'b', 'd'"):
        score_frame(card, frame.drop("b", "d"))
    with pytest.raises(ScorecardError, match="column 'a' must hold numbers, got String"):
        score_frame(card, frame.with_columns(pl.col("a").cast(pl.String)))
    with pytest.raises(ScorecardError, match="column 'c' must hold text, got Int32"):
        score_frame(card, frame.with_columns(pl.lit(1).alias("c")))


def _edited(path: list[object], value: object) -> str:
    data = json.loads(json.dumps(TINY))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["format"], "crossline-scorecard/2", "format: Input should be 'crossline-scorecard/1'"),
        (["version"], "", "version: String should have at least 1 character"),
        (["scaling", "offset"], 400.0, "offset: expected 383.903595 from pdo, odds and"),
        (["scaling", "max_score"], 1000, "scaling.max_score: Input should be 950"),
        (["characteristics", 0, "max_points"], 140.0, "max_points: expected 150.0, the most"),
        (
            ["characteristics", 0, "bins", 1, "lower"],
            1.0,
            "bins of 'a': expected each bin to start where the previous ends",
        ),
        (["characteristics", 0, "bins", 0, "lower"], -5.0, "first lower and the last upper"),
        (["characteristics", 1, "kind"], "ordinal", "characteristics.1: Input tag 'ordinal'"),
        (["characteristics", 1, "bins", 0, "points"], "many", "points: Input should be a valid"),
        (
            ["characteristics", 2, "bins", 1, "categories"],
            ["z", "x"],
            "bins of 'c': category 'x' is in two bins",
        ),
        (["characteristics", 3, "name"], "a", "characteristics: 'a' appears more than once"),
    ],
)
def test_card_errors_name_the_field(path: list[object], value: object, message: str) -> None:
    with pytest.raises(ScorecardError, match=message.replace("(", r"\(")):
        Scorecard.from_json(_edited(path, value))


def test_load_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScorecardError, match=r"scorecard .*absent\.json: No such file"):
        Scorecard.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"broken\.json: .*Invalid JSON"):
        Scorecard.load(broken)


# --- the format --------------------------------------------------------------------------


def test_json_round_trip_is_byte_stable(tmp_path: Path) -> None:
    card = tiny_card()
    text = card.to_json()
    path = tmp_path / "card.json"
    path.write_text(text, encoding="utf-8")
    again = Scorecard.load(path)
    assert again == card
    assert again.to_json() == text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["format"] == "crossline-scorecard/1"
    assert data["characteristics"][2]["bins"][0] == {"categories": ["x", "y"], "points": 100.0}


def test_points_are_held_to_a_millionth() -> None:
    data = json.loads(json.dumps(TINY))
    data["characteristics"][1]["bins"][0]["points"] = 90.00000049
    card = Scorecard.model_validate(data)
    assert card.characteristics[1].bins[0].points == 90.0
    assert score_row(card, {"a": 1, "b": 1, "c": "x", "d": 2}).points == 130 + 90 + 100 + 100


def test_default_scorecard_serves_the_feature_builders_columns() -> None:
    card = default_scorecard()
    assert card is default_scorecard()
    assert card.version == "default-1"
    assert set(card.feature_names) == set(REASONS)
    assert {c.name: c.reason for c in card.characteristics} == dict(REASONS)
    assert card.scaling.pdo == 50 and card.scaling.odds == 20 and card.scaling.anchor_score == 600
    history = synthetic_history(5_000, seed=99)
    scored = score_frame(card, history)
    scores = scored["score"].to_numpy()
    assert auc(history[TARGET].to_numpy(), scores, higher_is_riskier=False) > 0.75
    rates = scored.group_by("band").agg(pl.col(TARGET).mean()).sort(TARGET)
    assert rates["band"].to_list() == ["excellent", "very_good", "good", "fair", "poor"]


def test_default_scorecard_points_move_the_expected_way() -> None:
    """Monotone binning on data built monotone: riskier values never earn more points."""
    card = default_scorecard()
    directions = {
        "current_status": -1,
        "worst_status_12m": -1,
        "overdue_months_cumulative_24m": -1,
        "utilisation": -1,
        "hard_inquiries_3m": -1,
        "debt_to_income": -1,
        "credit_age_months": 1,
        "payment_ratio_6m": 1,
        "spending_regularity": 1,
    }
    for c in card.characteristics:
        if c.name in directions:
            points = np.array([b.points for b in c.bins])
            assert len(points) > 1, c.name
            assert (np.diff(points) * directions[c.name] > 0).all(), c.name


def test_score_any_equals_score_frame_on_small_and_large_frames() -> None:
    card = default_scorecard()
    history = synthetic_history(200, 11).drop("bad")
    for rows in (1, 5, SMALL_FRAME, SMALL_FRAME + 1, 200):
        frame = history.head(rows)
        assert score_any(card, frame).equals(score_frame(card, frame))
