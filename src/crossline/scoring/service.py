"""Scores in use: one per borrower and lender group, kept current with its history.

A group's score is computed from that group's view only (DESIGN §9). It is
recomputed for a borrower as soon as something the group can see changes
(an outbox event: at once for the product's own group; for every group when
a bureau record changes), and at end-of-day for every borrower whose view
the close or time alone can have moved, such as the months since the last
delinquency (``eod.rescoring`` says which).

Only a score that changed (value, band, reasons or model) is written to the
history: it stays the list of real changes. The current row also keeps the
features the score was computed from, as decisions read them (ratios
rounded), and is rewritten when they change even if the score did not: a
decision can then read the group's view of a borrower in one row instead of
rebuilding it (``decisions.inputs``). A nightly pass over a quiet book writes
almost nothing. On the last day of a month the features themselves are kept
as a snapshot, which training from the book and monitoring read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.kernels.features import rounded_ratios
from crossline.scoring.scorecard import Scorecard, default_scorecard, score_any
from crossline.scoring.views import all_group_features
from crossline.store.bulk import insert_frame, read_frame, stage_ids
from crossline.store.ids import allocate_ids
from crossline.store.schema import current_scores, feature_snapshots, score_history

_CURRENT_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "old_score_id": pl.Int64(),
        "old_score": pl.Int32(),
        "old_band": pl.String(),
        "old_reasons": pl.String(),
        "old_model": pl.String(),
        "old_features": pl.String(),
    }
)
_KEY = ["borrower_id", "lender_group"]


def _scored(card: Scorecard, features: pl.DataFrame) -> pl.DataFrame:
    """Score, band, reasons (a JSON list of {code, text}) and the features as decisions read
    them (JSON, ratios rounded) per borrower and group.

    The JSON is built by Polars, not per row: end-of-day scores whole partitions.
    """
    texts = {c.name: c.reason for c in card.characteristics}
    coded = pl.col("reasons").list.eval(
        pl.struct(
            pl.element().alias("code"),
            pl.element().replace_strict(texts, return_dtype=pl.String).alias("text"),
        )
    )
    # Encoded as {"r":[...]} and unwrapped: Polars encodes structs, not bare lists.
    as_json = pl.struct(coded.alias("r")).struct.json_encode().str.slice(5).str.strip_suffix("}")
    stored = rounded_ratios(features).select(
        *_KEY,
        pl.struct(pl.exclude(*_KEY, "shard")).struct.json_encode().alias("features"),
    )
    return (
        score_any(card, features)
        .select(
            "borrower_id",
            "shard",
            "lender_group",
            pl.col("score").cast(pl.Int32),
            "band",
            as_json.alias("reasons"),
            pl.lit(card.version).alias("model_version"),
        )
        .join(stored, on=_KEY, maintain_order="left")
    )


def _current(conn: sa.Connection, scope: sa.ColumnElement[bool]) -> pl.DataFrame:
    s = current_scores.c
    return read_frame(
        conn,
        sa.select(
            s.borrower_id,
            s.lender_group,
            s.score_id,
            s.score,
            s.band,
            s.reasons,
            s.model_version,
            s.features,
        ).where(scope),
        _CURRENT_SCHEMA,
    )


def _changes(scored: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Rows whose score or features changed, flagged ``rescored`` when the score itself
    (value, band, reasons or model) did: only those go into the history."""
    joined = scored.join(current, on=_KEY, how="left")
    same_score = (
        (pl.col("score") == pl.col("old_score"))
        & (pl.col("band") == pl.col("old_band"))
        & (pl.col("reasons") == pl.col("old_reasons"))
        & (pl.col("model_version") == pl.col("old_model"))
    ).fill_null(False)
    same_features = (pl.col("features") == pl.col("old_features")).fill_null(False)
    return joined.filter(~(same_score & same_features)).with_columns(
        (~same_score).alias("rescored")
    )


def _columns_of(table: sa.Table, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(c.name for c in table.columns)


def _store(conn: sa.Connection, changes: pl.DataFrame, as_of: date, trigger: str) -> int:
    """Append the new scores to the history and replace the changed current rows; returns
    the number of scores that changed."""
    if changes.is_empty():
        return 0
    changes = changes.sort(_KEY)
    rescored = changes.filter(pl.col("rescored"))
    if not rescored.is_empty():
        first = allocate_ids(conn, "score", rescored.height)
        ids = rescored.select(
            *_KEY, (pl.int_range(pl.len(), dtype=pl.Int64) + first).alias("new_score_id")
        )
        changes = changes.join(ids, on=_KEY, how="left", maintain_order="left")
        history = changes.filter(pl.col("rescored")).with_columns(
            pl.col("new_score_id").alias("score_id"),
            pl.lit(as_of, pl.Date).alias("business_date"),
            pl.lit(trigger).alias("trigger"),
        )
        insert_frame(conn, score_history, _columns_of(score_history, history))
    else:
        changes = changes.with_columns(pl.lit(None, pl.Int64).alias("new_score_id"))
    rows = changes.with_columns(
        pl.coalesce("new_score_id", "old_score_id").alias("score_id"),
        pl.lit(as_of, pl.Date).alias("business_date"),
    )
    for (group,), members in rows.group_by(["lender_group"], maintain_order=True):
        staged = stage_ids(conn, "scored_borrowers", members["borrower_id"])
        conn.execute(
            sa.delete(current_scores).where(
                current_scores.c.lender_group == group,
                current_scores.c.borrower_id.in_(sa.select(staged.c.id)),
            )
        )
    insert_frame(conn, current_scores, _columns_of(current_scores, rows))
    return rescored.height


def rescore(
    conn: sa.Connection,
    as_of: date,
    trigger: str,
    *,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
    only_groups: Sequence[str] | None = None,
    snapshot: date | None = None,
    card: Scorecard | None = None,
) -> pl.DataFrame:
    """Score the borrowers (a list or a shard range) in each group's view as of ``as_of``
    (every group, or ``only_groups``); store what changed; with ``snapshot``, also keep
    the features at that month end. Returns the features with ``score`` and ``band``
    per borrower and group, which account management reviews the lines with."""
    features = all_group_features(conn, as_of, borrowers, shards, only_groups)
    return score_features(
        conn,
        features,
        as_of,
        trigger,
        borrowers=borrowers,
        shards=shards,
        only_groups=only_groups,
        snapshot=snapshot,
        card=card,
    )


def score_features(
    conn: sa.Connection,
    features: pl.DataFrame,
    as_of: date,
    trigger: str,
    *,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
    only_groups: Sequence[str] | None = None,
    snapshot: date | None = None,
    card: Scorecard | None = None,
) -> pl.DataFrame:
    """:func:`rescore` given the features: exactly those of the borrowers (or shards) and
    groups named, which is what the stored rows are compared with. The outbox handler
    builds the features of every group an event batch concerns in one pass (the reads
    and the kernel cost the same for one group as for three) and stores them a group at
    a time, as before."""
    card = card or default_scorecard()
    if features.is_empty():
        return features.with_columns(
            pl.lit(None, pl.Int32).alias("score"), pl.lit(None, pl.String).alias("band")
        )
    scored = _scored(card, features)
    c = current_scores.c
    if shards is not None:
        scope = sa.and_(c.shard >= shards[0], c.shard < shards[1])
    else:
        scope = c.borrower_id.in_(list(borrowers or []))
    if only_groups is not None:
        scope = sa.and_(scope, c.lender_group.in_(list(only_groups)))
    _store(conn, _changes(scored, _current(conn, scope)), as_of, trigger)
    if snapshot is not None:
        _snapshot(conn, features, scored, snapshot)
    return features.join(scored.select(*_KEY, "score", "band"), on=_KEY)


def _snapshot(
    conn: sa.Connection, features: pl.DataFrame, scored: pl.DataFrame, period_end: date
) -> None:
    values = features.select(
        *_KEY,
        pl.struct(pl.exclude("borrower_id", "lender_group", "shard"))
        .struct.json_encode()
        .alias("features"),
    )
    rows = scored.select(*_KEY, "shard", "score", "model_version").join(values, on=_KEY)
    insert_frame(conn, feature_snapshots, rows.with_columns(pl.lit(period_end).alias("period_end")))
