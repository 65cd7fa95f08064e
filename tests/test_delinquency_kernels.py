"""Delinquency kernels against DOMAIN §2 (buckets, five-tier class) and §3 (PBOC status).

The expected table is written out by hand from DOMAIN.md, one row per boundary:
  buckets   M0 (0), M1 1–30, M2 31–60, M3 61–90, M4 91–120, M5 121–150, M6 151–180, M7+ >180
  classes   normal (0), special mention (1–90), substandard (91–270),
            doubtful (271–360), loss (>360)
  PBOC      N current; 1 = 1–30, 2 = 31–60 … 6 = 151–180, 7 = >180
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossline.kernels.delinquency import bucket, classification, classify, pboc_status

# dpd, bucket, classification, pboc status
TABLE: list[tuple[int, str, str, str]] = [
    (0, "M0", "normal", "N"),
    (1, "M1", "special_mention", "1"),
    (30, "M1", "special_mention", "1"),
    (31, "M2", "special_mention", "2"),
    (60, "M2", "special_mention", "2"),
    (61, "M3", "special_mention", "3"),
    (90, "M3", "special_mention", "3"),
    (91, "M4", "substandard", "4"),
    (120, "M4", "substandard", "4"),
    (121, "M5", "substandard", "5"),
    (150, "M5", "substandard", "5"),
    (151, "M6", "substandard", "6"),
    (180, "M6", "substandard", "6"),
    (181, "M7+", "substandard", "7"),
    (270, "M7+", "substandard", "7"),
    (271, "M7+", "doubtful", "7"),
    (360, "M7+", "doubtful", "7"),
    (361, "M7+", "loss", "7"),
]


def _apply(expr_fn, dpds: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    frame = pl.DataFrame({"dpd": dpds}, schema={"dpd": pl.Int32})
    return frame.select(expr_fn(pl.col("dpd")).alias("out"))["out"].to_list()


@pytest.mark.parametrize(("dpd", "expected"), [(d, b) for d, b, _, _ in TABLE])
def test_bucket_boundaries(dpd: int, expected: str) -> None:
    assert _apply(bucket, [dpd]) == [expected]


@pytest.mark.parametrize(("dpd", "expected"), [(d, c) for d, _, c, _ in TABLE])
def test_classification_boundaries(dpd: int, expected: str) -> None:
    assert _apply(classification, [dpd]) == [expected]


@pytest.mark.parametrize(("dpd", "expected"), [(d, p) for d, _, _, p in TABLE])
def test_pboc_status_boundaries(dpd: int, expected: str) -> None:
    assert _apply(pboc_status, [dpd]) == [expected]


def test_whole_table_in_one_frame() -> None:
    dpds = [d for d, _, _, _ in TABLE]
    assert _apply(bucket, dpds) == [b for _, b, _, _ in TABLE]
    assert _apply(classification, dpds) == [c for _, _, c, _ in TABLE]
    assert _apply(pboc_status, dpds) == [p for _, _, _, p in TABLE]


def test_classify_adds_three_columns_from_counted_dpd() -> None:
    frame = pl.DataFrame(
        {"loan_id": [1, 2, 3], "counted_dpd": [0, 45, 400], "dpd": [2, 45, 400]},
        schema={"loan_id": pl.Int64, "counted_dpd": pl.Int32, "dpd": pl.Int32},
    )
    out = classify(frame)
    # Reads counted_dpd (0 for loan 1, even though its raw dpd is 2).
    assert out["bucket"].to_list() == ["M0", "M2", "M7+"]
    assert out["classification"].to_list() == ["normal", "special_mention", "loss"]
    assert out["pboc_status"].to_list() == ["N", "2", "7"]
    assert out["dpd"].to_list() == [2, 45, 400]


def test_classify_other_column() -> None:
    frame = pl.DataFrame({"dpd": [2]}, schema={"dpd": pl.Int32})
    out = classify(frame, dpd_column="dpd")
    assert out.row(0, named=True) == {
        "dpd": 2,
        "bucket": "M1",
        "classification": "special_mention",
        "pboc_status": "1",
    }


def _expected_bucket(dpd: int) -> str:
    if dpd == 0:
        return "M0"
    if dpd > 180:
        return "M7+"
    # 1–30 -> M1, 31–60 -> M2, ... ; ceil(dpd / 30)
    return f"M{-(-dpd // 30)}"


def _expected_class(dpd: int) -> str:
    if dpd == 0:
        return "normal"
    if dpd <= 90:
        return "special_mention"
    if dpd <= 270:
        return "substandard"
    if dpd <= 360:
        return "doubtful"
    return "loss"


def _expected_pboc(dpd: int) -> str:
    if dpd == 0:
        return "N"
    if dpd > 180:
        return "7"
    return str(-(-dpd // 30))


@settings(max_examples=50)
@given(st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=50))
def test_every_dpd(dpds: list[int]) -> None:
    assert _apply(bucket, dpds) == [_expected_bucket(d) for d in dpds]
    assert _apply(classification, dpds) == [_expected_class(d) for d in dpds]
    assert _apply(pboc_status, dpds) == [_expected_pboc(d) for d in dpds]
