"""A decision's inputs: the group's view of the borrower, scored, and the group's lines.

The features are those of the same kernel as every score (``scoring.views``),
in the view of the deciding group only, with the ratios rounded to
``RATIO_PLACES`` places so that a threshold such as ``> 0.6`` means the same
in zen-engine (decimal) and in the compiled Polars expression (binary float).

**Served, not rebuilt, when it is current.** Re-scoring keeps each group's
view of each borrower in ``current_scores`` with the score (DESIGN §7: every
change that a group can see is an outbox event, and the handler re-scores;
every close re-scores every view it can have moved). So when the borrower has
no unhandled event that concerns the group and the stored row is of the
scorecard in use, the stored row *is* the view as of the business date, and a
decision reads one row instead of rebuilding the view from a dozen tables (a
millisecond instead of tens). An event concerns the groups the handler
re-scores for it (``events.handlers.concerns``), no others: an event another
group's handler alone acts on leaves this group's row as current as it was,
and a borrower's second purchase of the day is served although the first
one's event is still pending. Otherwise — an event not yet handled, a borrower
never scored, another model — the view is rebuilt from the tables. A test
holds the two equal, and another runs a simulated book both ways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from crossline.catalog import Catalog
from crossline.decisions.contracts import VIEW_INPUTS
from crossline.decisions.records import Reason
from crossline.events.handlers import concerns
from crossline.kernels.features import rounded_ratios
from crossline.scoring.scorecard import Scorecard, score_row
from crossline.scoring.views import group_features
from crossline.store.schema import credit_lines, current_scores, outbox


@dataclass(frozen=True, slots=True)
class View:
    """One group's view of one borrower: the policy's view inputs and the score's reasons."""

    inputs: dict[str, Any]
    score: int
    band: str
    reasons: tuple[Reason, ...]
    served: bool
    """Whether the view was read from the stored current row rather than rebuilt."""


STORED = sa.select(
    current_scores.c.score,
    current_scores.c.band,
    current_scores.c.reasons,
    current_scores.c.model_version,
    current_scores.c.features,
    sa.exists()
    .where(
        outbox.c.borrower_id == current_scores.c.borrower_id,
        outbox.c.handled.is_(False),
        concerns("products"),
    )
    .label("pending"),
).where(
    current_scores.c.borrower_id == sa.bindparam("borrower_id"),
    current_scores.c.lender_group == sa.bindparam("group"),
)
"""The stored row of a borrower in a group's view, and whether an event that concerns the
group is pending (bound as :func:`stored_keys` says). A caller may read it inside a larger
statement (``decisions.applications`` joins it to its checks) and pass the row to
:func:`served_view`."""


def stored_keys(catalog: Catalog, group: str, borrower_id: str) -> dict[str, Any]:
    """The values ``STORED`` is bound to."""
    products = [p.id for p in catalog.products_in_group(group)]
    return {"borrower_id": borrower_id, "group": group, "products": products}


def served_view(row: sa.RowMapping | None, card: Scorecard) -> View | None:
    """The view a row of ``STORED``'s columns holds, if it is current (see above); an
    absent row, or one of nulls from an outer join, is not."""
    if row is None or row["features"] is None:
        return None
    if row["model_version"] != card.version or row["pending"]:
        return None
    features = json.loads(row["features"])
    inputs = {name: features[name] for name in VIEW_INPUTS if name in features}
    reasons = tuple(Reason(r["code"], r["text"]) for r in json.loads(row["reasons"]))
    score, band = row["score"], row["band"]
    return View(inputs | {"score": score, "band": band}, score, band, reasons, True)


def stored_view(
    conn: sa.Connection, catalog: Catalog, group: str, borrower_id: str, card: Scorecard
) -> View | None:
    """The stored current view of the borrower in ``group``, if it is current (see above)."""
    row = conn.execute(STORED, stored_keys(catalog, group, borrower_id)).mappings().first()
    return served_view(row, card)


def rebuilt_view(
    conn: sa.Connection, group: str, borrower_id: str, as_of: date, card: Scorecard
) -> View:
    """The view rebuilt from the tables by the feature kernel, and scored."""
    features = group_features(conn, group, as_of, [borrower_id])
    result = score_row(card, features.row(0, named=True))
    row = rounded_ratios(features).row(0, named=True)
    inputs = {name: row[name] for name in VIEW_INPUTS if name in row}
    reasons = tuple(Reason(r.code, r.text) for r in result.reasons)
    score = {"score": result.score, "band": result.band}
    return View(inputs | score, result.score, result.band, reasons, False)


def borrower_view(
    conn: sa.Connection,
    catalog: Catalog,
    group: str,
    borrower_id: str,
    as_of: date,
    card: Scorecard,
    stored: sa.RowMapping | None = None,
) -> View:
    """The borrower in ``group``'s view as of ``as_of``, the business date: served when
    current, else rebuilt. ``stored``: the row of ``STORED``'s columns if the caller has
    read it inside a larger statement (nulls if there was none), else it is read here."""
    if stored is None:
        served = stored_view(conn, catalog, group, borrower_id, card)
    else:
        served = served_view(stored, card)
    return served if served is not None else rebuilt_view(conn, group, borrower_id, as_of, card)


GROUP_LINES = sa.select(
    sa.func.count().label("group_lines"),
    sa.func.coalesce(
        sa.func.sum(sa.case((credit_lines.c.status == "paused", 1), else_=0)), 0
    ).label("group_paused_lines"),
    sa.func.coalesce(
        sa.func.sum(sa.case((credit_lines.c.status == "frozen", 1), else_=0)), 0
    ).label("group_frozen_lines"),
    sa.func.coalesce(sa.func.sum(credit_lines.c.limit_fen), 0).label("group_limit_fen"),
).where(
    credit_lines.c.borrower_id == sa.bindparam("borrower_id"),
    credit_lines.c.lender_group == sa.bindparam("group"),
    credit_lines.c.status != "closed",
)
"""The borrower's open lines with a group: how many, how many paused or frozen, and their
limits added up (the exposure a group-wide borrower limit is measured by). Its columns are
named as the policy inputs they become, so that a caller can read them inside a larger
statement (``decisions.applications`` reads them with its checks) and pass the row to
:func:`group_lines_of`."""


def group_lines_of(row: sa.RowMapping) -> dict[str, int]:
    """The policy inputs of a row holding ``GROUP_LINES``' columns."""
    return {column.name: int(row[column.name]) for column in GROUP_LINES.selected_columns}
