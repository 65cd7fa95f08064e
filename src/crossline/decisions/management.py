"""Account management: each group's policy acts on its lines as the borrower's risk moves.

Every open line is reviewed in its group's view of the borrower — the same
features and score as every decision — plus the line itself and the group's
other lines. The group's ``review`` graph names one action per line:

=========  ================================================================
keep       nothing changes (not stored: a quiet night writes nothing)
reduce     the limit falls to the policy's figure (never rises)
pause      no new draws or purchases; the limit stays
freeze     no new draws or purchases, for a serious delinquency
close      the line ends for new credit (the balance is still serviced)
restore    the line is active again, its limit back towards the granted one
           (the policy's figure, never above what was granted)
increase   the limit rises to the policy's figure (the product's maximum at
           most), and that becomes the granted limit
=========  ================================================================

No raise takes a group's limits on one borrower's open lines above the
catalog's borrower credit cap (DOMAIN §5); ``_within_cap`` cuts it.

An action that changes the line is a stored decision (policy version, arm,
inputs, outputs, reason), a ``limit_changed`` notification to the borrower
and a ``limit_changed`` outbox event (the group's utilisation moved, so its
score follows).

Reviews run at the end of every business day for every borrower of the
partition, right after the scores (trigger ``nightly``), and between closes
from the outbox handler for the borrowers an event concerns (the trigger is
the event's type: ``overdue_started``, ``bucket_changed``, ``cured``,
``reported``, …). Both run the compiled Polars form of the policy over a
frame of lines; a property test holds it to zen-engine's answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog
from crossline.decisions.contracts import REVIEW_INPUTS
from crossline.decisions.policies import Arms, arm_of, policies_in_force
from crossline.events.notifications import line_notices, write_notifications
from crossline.events.outbox import write_events
from crossline.kernels.features import lookup, months_ago, rounded_ratios
from crossline.kernels.frames import EVENT_SCHEMA
from crossline.policy.bundle import Bundle
from crossline.policy.evaluate import evaluate_frame
from crossline.store import platform
from crossline.store.bulk import insert_frame, read_frame, update_frame
from crossline.store.ids import allocate_ids
from crossline.store.schema import credit_lines, decisions

_LINE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "kind": pl.String(),
        "status": pl.String(),
        "limit_fen": pl.Int64(),
        "granted_limit_fen": pl.Int64(),
        "dpd": pl.Int32(),
        "managed_on": pl.Date(),
    }
)

_ACTION_STATUS = {
    "pause": "paused",
    "freeze": "frozen",
    "close": "closed",
    "restore": "active",
    "increase": "active",
}
"""The status each action leaves a line in (keep and reduce leave it as it is)."""


def _lines(
    conn: sa.Connection, borrowers: Sequence[str] | None, shards: tuple[int, int] | None
) -> pl.DataFrame:
    """The open lines to review: of a list of borrowers, or of a shard range."""
    c = credit_lines.c
    where = (
        c.borrower_id.in_(list(borrowers or []))
        if shards is None
        else sa.and_(c.shard >= shards[0], c.shard < shards[1])
    )
    statement = sa.select(
        c.credit_line_id,
        c.borrower_id,
        c.lender_group,
        c.product,
        c.kind,
        c.status,
        c.limit_fen,
        sa.func.coalesce(c.granted_limit_fen, c.limit_fen),
        c.dpd,
        c.managed_on,
    ).where(where, c.status != "closed")
    return read_frame(conn, statement, _LINE_SCHEMA)


def review_inputs(
    lines: pl.DataFrame, scored: pl.DataFrame, catalog: Catalog, as_of: date, trigger: str
) -> pl.DataFrame:
    """One row per line: the group's features and score of its borrower, the line, and the
    group's other lines (``REVIEW_INPUTS`` plus the keys)."""
    grace = {p.id: p.grace_days for p in catalog.products}
    overdue_days = pl.col("dpd") - lookup(pl.col("product"), grace, pl.Int32())
    line_overdue = pl.when(overdue_days > 0).then(pl.col("dpd")).otherwise(0)
    frame = lines.with_columns(line_overdue.alias("line_overdue_days")).with_columns(
        (pl.col("line_overdue_days") > 0)
        .sum()
        .over("borrower_id", "lender_group")
        .cast(pl.Int16)
        .alias("group_overdue_lines")
    )
    joined = frame.join(rounded_ratios(scored), on=["borrower_id", "lender_group"], how="inner")
    return joined.select(
        "credit_line_id",
        "borrower_id",
        "lender_group",
        pl.col("status").alias("line_status"),
        pl.col("limit_fen").alias("line_limit_fen"),
        *[
            pl.col(name)
            for name in REVIEW_INPUTS
            if name in scored.columns and name not in ("borrower_id", "lender_group")
        ],
        "product",
        pl.col("kind").alias("product_kind"),
        "granted_limit_fen",
        (pl.col("granted_limit_fen") - pl.col("limit_fen"))
        .clip(0)
        .alias("limit_below_granted_fen"),
        pl.col("dpd").alias("line_dpd"),
        "line_overdue_days",
        "group_overdue_lines",
        months_ago(pl.col("managed_on"), as_of).cast(pl.Int16).alias("months_since_action"),
        pl.lit(trigger).alias("trigger"),
    ).cast(REVIEW_INPUTS)


def _arms(inputs: pl.DataFrame, group: str, arms: Arms) -> pl.DataFrame:
    if arms.challenger is None:
        return inputs.with_columns(pl.lit("champion").alias("arm"))
    arm = {b: arm_of(b, group, arms.share) for b in inputs["borrower_id"].unique().to_list()}
    return inputs.with_columns(pl.col("borrower_id").replace_strict(arm).alias("arm"))


def _actions(inputs: pl.DataFrame, bundle: Bundle) -> pl.DataFrame:
    """The policy's action for each line, with the status and limit it leads to."""
    graph = bundle.graphs["review"]
    result = evaluate_frame(graph, inputs.select(list(REVIEW_INPUTS))).get_column("action")
    decided = inputs.with_columns(result.struct.unnest()).rename({"limit_fen": "policy_limit_fen"})
    policy_limit = pl.col("policy_limit_fen").floor().cast(pl.Int64)
    current = pl.col("line_limit_fen")
    action = pl.col("action").fill_null("keep")
    new_limit = (
        pl.when(action == "reduce")
        .then(pl.min_horizontal(current, policy_limit.clip(0)))
        .when(action == "restore")
        .then(
            pl.min_horizontal(
                pl.col("granted_limit_fen"),
                policy_limit.fill_null(pl.col("granted_limit_fen")).clip(0),
            )
        )
        .when(action == "increase")
        .then(pl.max_horizontal(current, policy_limit))
        .otherwise(current)
    )
    new_status = lookup(
        action, {**dict.fromkeys(("keep", "reduce")), **_ACTION_STATUS}, pl.String()
    )
    return decided.with_columns(
        action.alias("action"),
        new_limit.alias("new_limit_fen"),
        pl.coalesce(new_status, pl.col("line_status")).alias("new_status"),
        pl.lit(bundle.version).alias("policy_version"),
    )


def _within_cap(actions: pl.DataFrame, cap_fen: int) -> pl.DataFrame:
    """Cut raises (increase, restore) so that a group's limits on one borrower's open
    lines add up to at most the borrower credit cap (DOMAIN §5): what the lines keep
    without their raises is counted first, and the room left goes to the raises in
    line order. A line that closes counts for nothing; nothing is cut below where it
    stands, even where the lines were above the cap already."""
    by = ["borrower_id", "lender_group"]
    closing = pl.col("new_status") == "closed"
    current, new = pl.col("line_limit_fen"), pl.col("new_limit_fen")
    raised = pl.when(~closing & (new > current)).then(new - current).otherwise(0)
    kept = pl.when(closing).then(0).otherwise(pl.min_horizontal(new, current))
    room = (pl.lit(cap_fen) - pl.col("kept").sum().over(by)).clip(0)
    before = pl.col("raised").cum_sum().over(by) - pl.col("raised")
    allowed = pl.min_horizontal((room - before).clip(0), pl.col("raised"))
    return (
        actions.sort("credit_line_id")
        .with_columns(raised.alias("raised"), kept.alias("kept"))
        .with_columns(
            pl.when(closing).then(new).otherwise(pl.col("kept") + allowed).alias("new_limit_fen")
        )
        .drop("raised", "kept")
    )


def _changed(actions: pl.DataFrame, product_max: Mapping[str, int], cap_fen: int) -> pl.DataFrame:
    capped = pl.min_horizontal(
        pl.col("new_limit_fen"), lookup(pl.col("product"), product_max, pl.Int64())
    )
    within = _within_cap(actions.with_columns(capped.alias("new_limit_fen")), cap_fen)
    return within.filter(
        (pl.col("new_status") != pl.col("line_status"))
        | (pl.col("new_limit_fen") != pl.col("line_limit_fen"))
    )


def _apply(
    conn: sa.Connection, changed: pl.DataFrame, today: date, texts: Mapping[str, Mapping[str, str]]
) -> None:
    """Write the new line states, the decisions, the notifications and the events."""
    granted = (
        pl.when(pl.col("action") == "increase")
        .then(pl.col("new_limit_fen"))
        .otherwise(pl.col("granted_limit_fen"))
    )
    update_frame(
        conn,
        credit_lines,
        "credit_line_id",
        changed.select(
            "credit_line_id",
            pl.col("new_status").alias("status"),
            pl.col("new_limit_fen").alias("limit_fen"),
            granted.alias("granted_limit_fen"),
            pl.lit(today, pl.Date).alias("managed_on"),
        ),
    )
    text_of = {
        f"{group}:{code}": text for group, codes in texts.items() for code, text in codes.items()
    }
    reason_text = pl.concat_str("lender_group", pl.lit(":"), "reason").replace_strict(
        text_of, default=None, return_dtype=pl.String
    )
    reason = pl.struct(pl.col("reason").alias("code"), reason_text.alias("text"))
    reasons = (
        pl.when(pl.col("reason").is_not_null())
        .then(pl.concat_str(pl.lit("["), reason.struct.json_encode(), pl.lit("]")))
        .otherwise(pl.lit("[]"))
    )
    first = allocate_ids(conn, "decision", changed.height)
    rows = changed.sort("credit_line_id").with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first).alias("decision_id"),
        reasons.alias("reasons"),
    )
    inputs_json = pl.struct(list(REVIEW_INPUTS)).struct.json_encode()
    outputs_json = pl.struct(
        pl.col("action"),
        pl.col("policy_limit_fen").cast(pl.String).alias("limit_fen"),
        pl.col("reason"),
        pl.col("new_status").alias("status"),
        pl.col("new_limit_fen").alias("new_limit_fen"),
    ).struct.json_encode()
    insert_frame(
        conn,
        decisions,
        rows.select(
            "decision_id",
            "borrower_id",
            pl.col("shard"),
            "lender_group",
            "product",
            "credit_line_id",
            pl.lit(None, pl.Int64).alias("application_id"),
            pl.lit("review").alias("kind"),
            pl.lit(today, pl.Date).alias("business_date"),
            "policy_version",
            "arm",
            pl.col("action").alias("outcome"),
            pl.col("score"),
            "reasons",
            inputs_json.alias("inputs"),
            outputs_json.alias("outputs"),
        ),
    )
    payload = pl.struct(
        pl.col("action"),
        pl.col("line_status").alias("old_status"),
        pl.col("new_status").alias("status"),
        pl.col("line_limit_fen").alias("old_limit_fen"),
        pl.col("new_limit_fen").alias("limit_fen"),
        pl.col("reason"),
        reason_text.alias("reason_text"),
        pl.col("decision_id"),
    ).struct.json_encode()
    write_notifications(conn, line_notices(rows, today, "limit_changed", payload))
    write_events(
        conn,
        rows.select(
            "borrower_id",
            "shard",
            pl.lit(today, pl.Date).alias("business_date"),
            pl.lit("limit_changed").alias("type"),
            "product",
            "credit_line_id",
            pl.lit(None, pl.Int64).alias("loan_id"),
            payload.alias("payload"),
        ).cast(EVENT_SCHEMA),
    )


def review(
    conn: sa.Connection,
    catalog: Catalog,
    scored: pl.DataFrame,
    as_of: date,
    trigger: str,
    *,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
) -> int:
    """Review the open lines of ``borrowers`` (or of shards [lo, hi)) against each group's
    policy, given ``scored``: the groups' features with ``score`` and ``band`` per
    borrower and group. Returns the number of lines changed."""
    lines = _lines(conn, borrowers, shards)
    if lines.is_empty():
        return 0
    inputs = review_inputs(lines, scored, catalog, as_of, trigger).join(
        scored.select("borrower_id", "lender_group", "shard"), on=["borrower_id", "lender_group"]
    )
    product_max = {p.id: p.max_limit_fen for p in catalog.products}
    changed_frames = []
    texts: dict[str, Mapping[str, str]] = {}
    catalog_json = platform.catalog_json(conn)
    for (group,), members in inputs.group_by(["lender_group"], maintain_order=True):
        arms = policies_in_force(conn, str(group), catalog_json)
        texts[str(group)] = arms.champion.reasons
        with_arm = _arms(members, str(group), arms)
        for arm, bundle in (("champion", arms.champion), ("challenger", arms.challenger)):
            part = with_arm.filter(pl.col("arm") == arm)
            if bundle is None or part.is_empty() or "review" not in bundle.graphs:
                continue
            if arm == "challenger":
                texts[str(group)] = {**texts[str(group)], **bundle.reasons}
            changed_frames.append(
                _changed(_actions(part, bundle), product_max, catalog.borrower_credit_cap_fen)
            )
    changed = (
        pl.concat(changed_frames, how="diagonal_relaxed") if changed_frames else pl.DataFrame()
    )
    if changed.is_empty():
        return 0
    _apply(conn, changed, as_of, texts)
    return changed.height
