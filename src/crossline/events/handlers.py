"""The in-process outbox dispatcher: what happens after a state change is committed.

Each unhandled event is mapped to the lender groups whose view it changes:
an account's own group at once; every group when a bureau record changed
(a month-end report or a corrected dispute). The affected borrowers' features
are built in one pass for all those groups, then stored a group at a time, and
each group reviews their lines with the new scores (account management). One
pass is the same as a read per group, because a group's review changes only its
own lines, which no other group's view contains (DESIGN §9). The events are marked
handled in the same transaction, so a crash re-runs the batch rather than
losing it. Both steps are idempotent: an unchanged score writes nothing, and
a review that changes nothing stores nothing.

``handle_pending`` is the one way to run it: the scenario runner and the
simulator after each command and close, the API server from a background
worker. Two runners must never handle the same batch (they would both review
it), so on PostgreSQL a runner first takes a transaction-scoped advisory lock
and skips the round if another holds it; SQLite has a single writer, and the
API serves it from one process.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog, catalog_from_json
from crossline.decisions.management import review
from crossline.scoring.service import score_features
from crossline.scoring.views import all_group_features
from crossline.servicing.context import lock_borrowers
from crossline.store import platform
from crossline.store.bulk import read_frame
from crossline.store.membership import one_of
from crossline.store.schema import outbox

EVERY_GROUP = frozenset({"reported", "dispute_resolved", "inquiry", "income_verified"})
"""Events that change what other groups see: through the bureau (inquiries are on the
report too), or about the borrower rather than a line (a verified income)."""


def concerns(group_products: str) -> sa.ColumnElement[bool]:
    """Whether an outbox row concerns a group whose products are the list bound as
    ``group_products``: it is one of the group's products' or an event every group
    re-scores for; the SQL form of :func:`affected_groups`, which decisions ask of a
    borrower's pending events."""
    o = outbox.c
    return sa.or_(
        o.type.in_([sa.literal(kind) for kind in sorted(EVERY_GROUP)]),
        o.product.is_(None),
        one_of(o.product, group_products),
    )


def affected_groups(events: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """(borrower_id, lender_group) pairs to re-score for ``events``."""
    all_groups = sorted({p.group for p in catalog.providers})
    owner = {p.id: catalog.group_of(p.id) for p in catalog.products}
    groups_of = pl.when(pl.col("type").is_in(list(EVERY_GROUP)) | pl.col("product").is_null())
    return (
        events.with_columns(
            groups_of.then(pl.lit(all_groups, pl.List(pl.String)))
            .otherwise(pl.concat_list(pl.col("product").replace_strict(owner)))
            .alias("lender_group")
        )
        .explode("lender_group")
        .select("borrower_id", "lender_group")
        .unique()
        .sort("lender_group", "borrower_id")
    )


HANDLER_LOCK = 0x63726F73
"""The PostgreSQL advisory lock key of the outbox runner ("cros")."""


def handle_pending(engine: sa.Engine) -> int:
    """Handle every unhandled event in one transaction as of the business date; returns
    how many were handled (0 while another runner holds the batch or the day is
    closing — the close's own events are handled after it)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            claimed = conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(HANDLER_LOCK)))
            if not claimed.scalar_one():
                return 0
        state = platform.state(conn)
        if state.closing:
            return 0
        return dispatch(conn, catalog_from_json(str(state.catalog_json)), state.business_date)


def dispatch(conn: sa.Connection, catalog: Catalog, as_of: date) -> int:
    """Handle every unhandled event; returns how many were handled.

    The events' borrowers are held first (``lock_borrowers``), so no command changes a
    borrower between the features read here and the action taken on them."""
    o = outbox.c
    events = read_frame(
        conn,
        sa.select(o.event_id, o.borrower_id, o.type, o.product).where(o.handled.is_(False)),
        pl.Schema(
            {
                "event_id": pl.Int64(),
                "borrower_id": pl.String(),
                "type": pl.String(),
                "product": pl.String(),
            }
        ),
    )
    if events.is_empty():
        return 0
    lock_borrowers(conn, events["borrower_id"].unique().to_list())
    trigger = ",".join(sorted(events["type"].unique().to_list()))
    affected = affected_groups(events, catalog)
    features = all_group_features(
        conn,
        as_of,
        affected["borrower_id"].unique().sort().to_list(),
        groups=affected["lender_group"].unique(maintain_order=True).to_list(),
    )
    for (group,), pairs in affected.group_by(["lender_group"], maintain_order=True):
        borrowers = pairs["borrower_id"].to_list()
        own = features.join(pairs, on=["borrower_id", "lender_group"], how="semi")
        scored = score_features(
            conn, own, as_of, "event", borrowers=borrowers, only_groups=[str(group)]
        )
        review(conn, catalog, scored, as_of, trigger, borrowers=borrowers)
    conn.execute(
        sa.update(outbox)
        .where(o.handled.is_(False), o.event_id <= int(events["event_id"].max()))  # type: ignore[arg-type]
        .values(handled=True)
    )
    return events.height
