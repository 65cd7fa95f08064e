"""Training from the book and monitoring: matured snapshots, labels, PSI, AUC/KS."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from crossline.cli import app
from crossline.scoring.book import labelled, matured_snapshots
from crossline.scoring.monitor import monitor
from crossline.scoring.scorecard import default_scorecard, score_frame
from crossline.scoring.synthetic import synthetic_history
from crossline.store.bulk import insert_frame
from crossline.store.schema import bureau_records, feature_snapshots

OBSERVED = date(2025, 1, 31)


def test_the_label_looks_12_months_ahead_and_no_further() -> None:
    snapshots = pl.DataFrame({"borrower_id": ["a", "b", "c", "d"], "period_end": [OBSERVED] * 4})
    outcomes = pl.DataFrame(
        {
            "borrower_id": ["a", "b", "c", "d", "d"],
            "outcome_end": [
                date(2026, 1, 31),  # a: 12 months on, 90 DPD: bad
                date(2026, 2, 28),  # b: 13 months on: too late to count
                date(2025, 1, 31),  # c: the observation month itself: already known
                date(2025, 6, 30),  # d: 89 DPD is not 90 …
                date(2025, 7, 31),  # … but bad debt is
            ],
            "max_dpd": [90, 200, 120, 89, 0],
            "status": ["3", "7", "4", "3", "B"],
        }
    )
    result = labelled(snapshots, outcomes).sort("borrower_id")
    assert result["bad"].to_list() == [1, 0, 0, 1]


def _records(rows: list[tuple[str, int, date, int]]) -> pl.DataFrame:
    """Minimal bureau records: (borrower, line, month end, worst DPD of the month)."""
    return pl.DataFrame(
        [
            {
                "credit_line_id": line,
                "period_end": month,
                "borrower_id": borrower,
                "shard": 0,
                "provider": "huabei",
                "lender_group": "ant",
                "product": "huabei",
                "opened_on": date(2024, 1, 1),
                "status": "4" if dpd >= 90 else "N",
                "actual_status": "4" if dpd >= 90 else "N",
                "dpd": dpd,
                "max_dpd": dpd,
                "balance_fen": 0,
                "limit_fen": 100000,
                "overdue_fen": 0,
                "reported_on": month,
                "history": "-" * 23 + "N",
                "actual_history": "-" * 23 + "N",
            }
            for borrower, line, month, dpd in rows
        ]
    )


def _book(engine: sa.Engine, rows: int = 600) -> pl.DataFrame:
    """Two month-end snapshots of a simulated population, with outcomes 5 months later."""
    history = synthetic_history(rows, 3).with_columns(
        pl.format("b{}", pl.int_range(pl.len())).alias("borrower_id")
    )
    card = default_scorecard()
    scored = score_frame(card, history.drop("bad"))
    features = history.drop("bad").select(
        "borrower_id", pl.struct(pl.exclude("borrower_id")).struct.json_encode().alias("features")
    )
    snapshot = features.with_columns(
        pl.lit(0, pl.Int16).alias("shard"),
        pl.lit("ant").alias("lender_group"),
        scored["score"].alias("score"),
        pl.lit(card.version).alias("model_version"),
    )
    outcome = [
        (borrower, index + 1, date(2025, 6, 30), 95 if bad else 0)
        for index, (borrower, bad) in enumerate(history.select("borrower_id", "bad").iter_rows())
    ]
    with engine.begin() as conn:
        for month in (OBSERVED, date(2025, 2, 28)):
            insert_frame(
                conn, feature_snapshots, snapshot.with_columns(pl.lit(month).alias("period_end"))
            )
        insert_frame(conn, bureau_records, _records([*outcome, ("b0", 1, date(2026, 2, 28), 0)]))
    return history.with_columns(scored["score"])


def test_matured_snapshots_carry_their_outcome(engine: sa.Engine) -> None:
    history = _book(engine)
    with engine.connect() as conn:
        matured = matured_snapshots(conn)
    # Reported through February 2026: January and February 2025 have matured.
    assert matured.height == 2 * history.height
    january = matured.filter(pl.col("period_end") == OBSERVED).sort("borrower_id")
    expected = history.sort("borrower_id")
    assert january["bad"].to_list() == expected["bad"].to_list()
    assert january["utilisation"].to_list() == expected["utilisation"].to_list()


def test_train_from_the_book(engine: sa.Engine, database_url: str, tmp_path: Path) -> None:
    history = _book(engine)
    result = CliRunner().invoke(
        app,
        ["model", "train", "--from-book", "--database", database_url, "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["rows"] == 2 * history.height
    assert metrics["bad_rate"] == pytest.approx(float(history["bad"].mean()), abs=1e-6)
    assert (tmp_path / "scorecard.json").exists()


def test_train_from_an_immature_book_is_refused(database_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["model", "train", "--from-book", "--database", database_url, "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "12 months of outcomes" in result.output
    assert not (tmp_path / "scorecard.json").exists()


def test_monitor_reports_stability_and_discrimination(engine: sa.Engine) -> None:
    history = _book(engine)
    with engine.connect() as conn:
        report = monitor(conn, default_scorecard())
    # The two months hold the same population: nothing moved.
    assert report["score_psi"] == pytest.approx(0.0, abs=1e-9)
    assert set(report["characteristic_psi"].values()) == {0.0}
    bad = history["bad"].to_numpy()
    expected_auc = roc_auc_score(bad, -history["score"].to_numpy())
    assert report["matured"]["rows"] == 2 * history.height
    assert report["matured"]["auc"] == pytest.approx(expected_auc, abs=1e-6)
