"""The close's scores: recompute only the borrowers whose view can have moved.

End-of-day stores every borrower's score in every group's view as of the next
business date (``scoring.service``), and account management reviews every
line with them. Recomputing a view costs reads and a kernel run per borrower;
on an ordinary night most borrowers' views are exactly what is already stored,
because everything that changes a view between closes is an outbox event that
the handlers re-score at once (DESIGN §7), and a view moves with time alone
only on known days. So a close recomputes the *stale* borrowers of the
partition and serves the others from ``current_scores``. A borrower is stale
for the close of day D (scores as of T = D + 1) when:

* the close itself read their rows or lines to change them (accrual,
  recognition, ageing, write-off, statements), or wrote an event about them;
* they have an event not yet handled, no current row in some group, or a row of
  another scorecard: what is stored may not be their view;
* time alone moves their view from D to T: a row of theirs falls due on D (it
  enters the payment window, which ends the day before the business date); a
  line of theirs opened on T's day of the month (its anniversary ticks the
  credit age; a day past the month's end counts on its last day, as
  ``calendar.monthly_date`` says); or a negative bureau record of theirs leaves
  the five-year window between D and T.

Every other input of a view moves only with the calendar month (windows,
month grids, inquiries, spending) or with the month-end report; when T starts
a month every borrower is recomputed, and the month-end snapshot is taken
then. The full recomputation stays the reference: a test runs a simulated book
both ways and compares every table.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.calendar import monthly_days
from crossline.catalog import Catalog
from crossline.kernels.bureau import NEGATIVE_STATUSES
from crossline.kernels.features import GROUP_FEATURE_SCHEMA
from crossline.scoring.scorecard import default_scorecard
from crossline.scoring.service import rescore
from crossline.scoring.views import groups, hidden_until
from crossline.store.bulk import empty_frame, read_frame, stage_ids
from crossline.store.schema import (
    borrowers,
    bureau_records,
    credit_lines,
    current_scores,
    installments,
    outbox,
    statements,
)

_STORED_FEATURES = pl.Struct(
    {
        k: v
        for k, v in GROUP_FEATURE_SCHEMA.items()
        if k not in ("borrower_id", "lender_group", "shard")
    }
)
_VERSIONS_SCHEMA = pl.Schema(
    {"borrower_id": pl.String(), "lender_group": pl.String(), "model_version": pl.String()}
)
_STORED_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "shard": pl.Int16(),
        "score": pl.Int32(),
        "band": pl.String(),
        "model_version": pl.String(),
        "features": pl.String(),
    }
)
_IDS = pl.Schema({"borrower_id": pl.String()})
_FULL_SHARE = 0.5
"""Above this share of stale borrowers a partition is recomputed whole: one range read is
then cheaper than a list of ids."""


def close_scores(
    conn: sa.Connection,
    catalog: Catalog,
    day: date,
    lo: int,
    hi: int,
    touched: pl.Series,
    reviewed: pl.Series | None,
) -> pl.DataFrame:
    """Score shards [lo, hi) as of ``day + 1`` for the close of ``day``, storing what
    changed; the features with ``score`` and ``band`` (as ``scoring.service.rescore``
    returns them) of every borrower and group account management reviews tonight: those
    recomputed and the stored views of ``reviewed`` (``None``: every borrower's).

    ``touched``: the borrowers the close changed or wrote an event about. Only the
    reviewed borrowers' stored views are read: on an ordinary night that is a few rows,
    not the partition's every view with its features decoded."""
    tomorrow = day + timedelta(days=1)
    if tomorrow.day == 1:
        return rescore(conn, tomorrow, "eod", shards=(lo, hi), snapshot=day)
    versions = _versions(conn, lo, hi)
    everyone = _ids(conn, sa.select(borrowers.c.borrower_id).where(_in(borrowers, lo, hi)))
    stale = _stale(conn, day, lo, hi, touched, versions, everyone, len(groups(catalog)))
    if stale.len() > _FULL_SHARE * everyone.len():
        fresh = rescore(conn, tomorrow, "eod", shards=(lo, hi))
        if reviewed is None:
            return fresh
        wanted = pl.concat([reviewed, stale]).implode()
        return fresh.filter(pl.col("borrower_id").is_in(wanted))
    kept = _served(_kept(conn, lo, hi, stale, reviewed))
    if stale.is_empty():
        return kept
    fresh = rescore(conn, tomorrow, "eod", borrowers=stale.sort().to_list())
    return pl.concat([fresh, kept.select(fresh.columns).cast(fresh.schema)])


def _in(table: sa.Table, lo: int, hi: int) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.shard >= lo, table.c.shard < hi)


def _ids(conn: sa.Connection, statement: sa.Select[tuple[str]]) -> pl.Series:
    return read_frame(conn, statement, _IDS)["borrower_id"]


def _versions(conn: sa.Connection, lo: int, hi: int) -> pl.DataFrame:
    """The stored views' keys and scorecard: enough to decide who is stale, without the
    features, which are read only for the borrowers that are served (``_kept``)."""
    s = current_scores.c
    statement = sa.select(s.borrower_id, s.lender_group, s.model_version).where(
        _in(current_scores, lo, hi)
    )
    return read_frame(conn, statement, _VERSIONS_SCHEMA)


def _kept(
    conn: sa.Connection, lo: int, hi: int, stale: pl.Series, reviewed: pl.Series | None
) -> pl.DataFrame:
    """The stored rows, features included, of the reviewed borrowers of the partition (all
    of them when ``reviewed`` is ``None``) that are not stale; the borrowers are staged to
    join with rather than listed."""
    s = current_scores.c
    scope = _in(current_scores, lo, hi)
    if reviewed is not None:
        wanted = reviewed.filter(~reviewed.is_in(stale.implode()))
        if wanted.is_empty():
            return empty_frame(_STORED_SCHEMA)
        staged = stage_ids(conn, "reviewed_borrowers", wanted)
        scope = sa.and_(scope, s.borrower_id.in_(sa.select(staged.c.id)))
    elif not stale.is_empty():
        staged = stage_ids(conn, "stale_borrowers", stale)
        scope = sa.and_(scope, s.borrower_id.not_in(sa.select(staged.c.id)))
    statement = sa.select(
        s.borrower_id, s.lender_group, s.shard, s.score, s.band, s.model_version, s.features
    ).where(scope)
    return read_frame(conn, statement, _STORED_SCHEMA)


def _served(stored: pl.DataFrame) -> pl.DataFrame:
    """Stored rows as ``rescore`` returns them: the features (ratios as rounded when
    stored, which is how account management reads them) with the score and band."""
    decoded = pl.col("features").str.json_decode(_STORED_FEATURES)
    return stored.select("borrower_id", "lender_group", "shard", decoded, "score", "band").unnest(
        "features"
    )


def _stale(
    conn: sa.Connection,
    day: date,
    lo: int,
    hi: int,
    touched: pl.Series,
    versions: pl.DataFrame,
    everyone: pl.Series,
    views_per_borrower: int,
) -> pl.Series:
    """The borrowers of the partition whose view as of ``day + 1`` may differ from the
    stored one (see the module's docstring); ``versions``: the stored views' keys and
    scorecard; ``views_per_borrower``: how many group
    views each borrower has."""
    version = default_scorecard().version
    complete = (
        versions.filter(pl.col("model_version") == version)
        .group_by("borrower_id")
        .len()
        .filter(pl.col("len") == views_per_borrower)["borrower_id"]
    )
    unscored = everyone.filter(~everyone.is_in(complete.implode()))
    moved = sa.union(*_moved(day, lo, hi)).subquery()
    return pl.concat([touched, unscored, _ids(conn, sa.select(moved.c.borrower_id))]).unique()


def _moved(day: date, lo: int, hi: int) -> list[sa.Select[tuple[str]]]:
    """Reads of the borrowers with an unhandled event, a line opened today (opening a
    line emits no event), or whose view time moves from ``day`` to the next day (a row
    due, an anniversary, a record leaving the window); read as one union, one round
    trip."""
    tomorrow = day + timedelta(days=1)
    i, s, c, r, o = installments.c, statements.c, credit_lines.c, bureau_records.c, outbox.c
    ticks = monthly_days(lambda anniversary: anniversary == tomorrow, tomorrow.year, tomorrow.month)
    anniversary = sa.extract("day", c.opened_on).in_(ticks)
    before, after = hidden_until(day), hidden_until(tomorrow)
    return [
        sa.select(o.borrower_id).where(_in(outbox, lo, hi), o.handled.is_(False)),
        sa.select(i.borrower_id).where(i.due_date == day, _in(installments, lo, hi)),
        sa.select(s.borrower_id).where(_in(statements, lo, hi), s.due_date == day),
        sa.select(c.borrower_id).where(_in(credit_lines, lo, hi), anniversary),
        sa.select(c.borrower_id).where(_in(credit_lines, lo, hi), c.opened_on == day),
        sa.select(r.borrower_id).where(
            _in(bureau_records, lo, hi),
            r.period_end <= after,
            r.status.in_(NEGATIVE_STATUSES),
            r.delinquency_ended_on > before,
            r.delinquency_ended_on <= after,
        ),
    ]
