"""Champion/challenger backtests: replay a group's stored applications through a policy.

A stored application decision keeps the inputs exactly as its policy saw them,
so a candidate policy can be judged on the same applications without
rebuilding any view: ``backtest`` reads the ``application`` decisions of the
candidate's lender group dated ``start`` to ``end`` (both included), runs the
candidate's compiled application graph over all of them at once, and turns
each result into an outcome by ``applications.verdict``, the rule a single
decision applies (any veto declines; no offer declines; an approval's limit
is the offer's amount floored to the fen, capped by the product's maximum in
the catalog in force and the requested limit, declined under
``MIN_LIMIT_FEN``, then capped by an offer's borrower-level limit). Every
decision counts, so an application re-decided on its documents counts once
per decision, each replayed with the state of the proof it was decided on.

A stored decision keeps the policy's outputs, not the limit derived from them:
the stored versions' limits are derived from those outputs by the same rule
(the limit the line was opened with, as long as the catalog's maxima have not
changed since). A test holds this: the deciding policy, replayed, gives every
stored outcome and limit back.

**Later bad rate.** A decision's borrower *went bad* when a line followed for
it reached 30+ days past due, or was written off, on or after the decision's
business date. The line followed is the borrower's line for the decision's
product (the line the approval opened, or one opened later); when there is
none — a candidate approving someone who was declined — every line of the
borrower with the group, closed ones included. A line counts as 30+ days past
due after a date when its current DPD or the worst counted DPD of the current
month (``credit_lines.dpd``, ``month_max_dpd``) is 30 or more, or a month-end
bureau record dated on or after that date has a worst DPD (``max_dpd``, kept
whatever was reported) of 30 or more; written off means ``written_off_on`` on
or after that date. Months are the resolution of the history: a month that
holds the decision counts whole. The bad rate of a version is the share of
the decisions it approved whose borrower went bad; an approval with no line
of the borrower with the group to follow counts as good, and how many there
were is reported beside it (``approved_unobserved``).

Rates are exact ratios of counts, half-up to 4 places; the mean limit is
half-up to the fen.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.catalog import catalog_from_json
from crossline.decisions.applications import STATUS, verdict
from crossline.decisions.contracts import APPLICATION_INPUTS
from crossline.decisions.policies import check_policy
from crossline.money import format_fen
from crossline.policy.evaluate import evaluate_frame
from crossline.policy.jdm import Graph
from crossline.servicing.errors import InputError, RefusedError
from crossline.store import platform
from crossline.store.bulk import read_frame
from crossline.store.schema import bureau_records, credit_lines, decisions

LATE_DPD = 30
"""Days past due at which a borrower counts as gone bad after a decision."""

STATUSES = tuple(STATUS.values())
"""Every outcome an application can have (approved, referred, declined)."""

SWAPS = tuple(f"{a}_to_{b}" for a in STATUSES for b in STATUSES if a != b)
"""The ways a decision can change outcome between the stored and the candidate policy."""

RATE_PLACES = Decimal("0.0001")
"""Rates are reported half-up to 4 places, as text."""

_STORED_PLACES = 18
"""Places a stored decimal output is read to: zen-engine's decimals have at most 28
significant digits, so any of them under 10^20 fen is read exactly."""

_DECISION_SCHEMA = pl.Schema(
    {
        "decision_id": pl.Int64(),
        "borrower_id": pl.String(),
        "product": pl.String(),
        "business_date": pl.Date(),
        "policy_version": pl.String(),
        "arm": pl.String(),
        "stored_outcome": pl.String(),
        "inputs": pl.String(),
        "outputs": pl.String(),
    }
)

_STORED_OUTPUTS = pl.Struct(
    {
        "veto": pl.List(pl.Struct({"code": pl.String()})),
        "offer": pl.Struct(
            {
                "outcome": pl.String(),
                "limit_fen": pl.Decimal(38, _STORED_PLACES),
                "borrower_limit_fen": pl.Decimal(38, _STORED_PLACES),
            }
        ),
    }
)
"""The parts of a stored application result that decide its outcome and limit."""

_LINE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "product": pl.String(),
        "dpd": pl.Int32(),
        "month_max_dpd": pl.Int32(),
        "written_off_on": pl.Date(),
    }
)

_LATE_MONTH_SCHEMA = pl.Schema({"credit_line_id": pl.Int64(), "late_month_end": pl.Date()})


@dataclass(frozen=True, slots=True)
class Summary:
    """One policy version's decisions over the window, as counts and fen."""

    version: str
    arm: str | None
    decisions: int
    approved: int
    referred: int
    approved_limit_total_fen: int
    bad: int
    """Approved decisions whose borrower went bad afterwards."""
    unobserved: int
    """Approved decisions with no line of the borrower with the group to follow."""

    @property
    def approval_rate(self) -> Decimal | None:
        return _rate(self.approved, self.decisions)

    @property
    def referral_rate(self) -> Decimal | None:
        return _rate(self.referred, self.decisions)

    @property
    def bad_rate(self) -> Decimal | None:
        return _rate(self.bad, self.approved)

    @property
    def approved_limit_mean_fen(self) -> int | None:
        if self.approved == 0:
            return None
        mean = Decimal(self.approved_limit_total_fen) / self.approved
        return int(mean.to_integral_value(ROUND_HALF_UP))

    def as_dict(self) -> dict[str, Any]:
        """The summary as the command prints it: money as yuan text, rates as text."""
        mean = self.approved_limit_mean_fen
        arm = {} if self.arm is None else {"arm": self.arm}
        return {
            "version": self.version,
            **arm,
            "decisions": self.decisions,
            "approval_rate": _text(self.approval_rate),
            "referral_rate": _text(self.referral_rate),
            "approved_limit_total": format_fen(self.approved_limit_total_fen),
            "approved_limit_mean": None if mean is None else format_fen(mean),
            "bad_rate": _text(self.bad_rate),
            "approved_unobserved": self.unobserved,
        }


@dataclass(frozen=True, slots=True)
class Backtest:
    """The stored versions and the candidate on the same decisions, and what changed."""

    group: str
    start: date
    end: date
    stored: tuple[Summary, ...]
    candidate: Summary
    swaps: Mapping[str, int]
    decisions: pl.DataFrame = field(repr=False)
    """One row per decision: its keys, the stored and the candidate outcome and limit,
    and whether its borrower went bad afterwards (``bad``, ``observed``)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "stored": [s.as_dict() for s in self.stored],
            "candidate": self.candidate.as_dict(),
            "swaps": dict(self.swaps),
        }


def _rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / whole).quantize(RATE_PLACES, ROUND_HALF_UP)


def _text(rate: Decimal | None) -> str | None:
    return None if rate is None else str(rate)


def _results(veto: pl.Expr, offer: pl.Expr, borrower_limit: pl.Expr) -> list[pl.Expr]:
    """An application result (stored or computed) in the columns the outcome reads."""
    return [
        veto.list.len().alias("vetoes"),
        offer.is_not_null().alias("offered"),
        offer.struct.field("outcome").alias("offer_outcome"),
        offer.struct.field("limit_fen").alias("offer_limit"),
        borrower_limit.alias("offer_borrower_limit"),
    ]


def _candidate_results(graph: Graph, inputs: pl.DataFrame) -> pl.DataFrame:
    """The candidate's graph over every decision's inputs at once (compiled Polars)."""
    offer = pl.col("offer")
    table = graph.table("offer")
    assert table is not None  # the application contract requires it
    borrower_limit = (
        offer.struct.field("borrower_limit_fen")
        if "borrower_limit_fen" in {c.field for c in table.outputs}
        else pl.lit(None, pl.Decimal(38, 0))  # optional in the contract
    )
    return evaluate_frame(graph, inputs).select(_results(pl.col("veto"), offer, borrower_limit))


def _stored_results(outputs: pl.DataFrame) -> pl.DataFrame:
    """The deciding policy's stored outputs, read back into the same columns."""
    decoded = outputs.select(pl.col("outputs").str.json_decode(_STORED_OUTPUTS)).unnest("outputs")
    offer = pl.col("offer")
    return decoded.select(_results(pl.col("veto"), offer, offer.struct.field("borrower_limit_fen")))


def _outcome(results: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """``status`` and ``limit_fen`` (approved only) of each result, by ``verdict``: the rule
    a single decision applies, mapped over the rows in one pass (about 2 µs a row; the
    policy itself ran compiled). Kept in Python rather than written again as a Polars
    expression, so that it stays the one rule. ``requests`` gives each row's
    ``requested_limit_fen``, ``max_limit_fen`` and ``headroom_fen``."""
    rows = pl.concat([results, requests], how="horizontal").select(
        pl.col("vetoes") > 0,
        pl.when(pl.col("offered")).then(pl.col("offer_outcome")),
        "offer_limit",
        "offer_borrower_limit",
        "requested_limit_fen",
        "max_limit_fen",
        "headroom_fen",
    )
    return pl.DataFrame(
        [(v.status, v.limit_fen) for v in itertools.starmap(verdict, rows.iter_rows())],
        schema={"status": pl.String(), "limit_fen": pl.Int64()},
        orient="row",
    )


def _window(group: str, start: date, end: date) -> sa.ColumnElement[bool]:
    d = decisions.c
    return sa.and_(
        d.kind == "application", d.lender_group == group, d.business_date.between(start, end)
    )


def _stored_decisions(conn: sa.Connection, group: str, start: date, end: date) -> pl.DataFrame:
    d = decisions.c
    statement = (
        sa.select(
            d.decision_id,
            d.borrower_id,
            d.product,
            d.business_date,
            d.policy_version,
            d.arm,
            d.outcome,
            d.inputs,
            d.outputs,
        )
        .where(_window(group, start, end))
        .order_by(d.decision_id)
    )
    return read_frame(conn, statement, _DECISION_SCHEMA)


def _bad_since(conn: sa.Connection, group: str, start: date, end: date) -> pl.DataFrame:
    """The group's lines of the window's borrowers, each with the latest date it is known
    to have been 30+ days past due or written off (``bad_on``, null if never)."""
    borrowers = sa.select(decisions.c.borrower_id).where(_window(group, start, end)).distinct()
    c = credit_lines.c
    lines = read_frame(
        conn,
        sa.select(
            c.credit_line_id, c.borrower_id, c.product, c.dpd, c.month_max_dpd, c.written_off_on
        ).where(c.lender_group == group, c.borrower_id.in_(borrowers)),
        _LINE_SCHEMA,
    )
    r = bureau_records.c
    late_months = read_frame(
        conn,
        sa.select(r.credit_line_id, sa.func.max(r.period_end))
        .where(r.lender_group == group, r.max_dpd >= LATE_DPD, r.borrower_id.in_(borrowers))
        .group_by(r.credit_line_id),
        _LATE_MONTH_SCHEMA,
    )
    late_now = (pl.col("dpd") >= LATE_DPD) | (pl.col("month_max_dpd") >= LATE_DPD)
    today = platform.business_date(conn)
    return lines.join(late_months, on="credit_line_id", how="left").select(
        "borrower_id",
        "product",
        pl.max_horizontal(
            "written_off_on", "late_month_end", pl.when(late_now).then(pl.lit(today))
        ).alias("bad_on"),
    )


def _went_bad(frame: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """``bad`` and ``observed`` per decision: the borrower's line for the product if there
    is one, else all the borrower's lines with the group."""
    product_lines = lines.select(
        "borrower_id", "product", pl.col("bad_on").alias("line_bad_on"), has_line=pl.lit(True)
    )
    group_lines = lines.group_by("borrower_id").agg(
        pl.col("bad_on").max().alias("group_bad_on"), has_group_line=pl.lit(True)
    )
    followed = (
        pl.when(pl.col("has_line")).then(pl.col("line_bad_on")).otherwise(pl.col("group_bad_on"))
    )
    return (
        frame.join(product_lines, on=["borrower_id", "product"], how="left")
        .join(group_lines, on="borrower_id", how="left")
        .with_columns(
            (followed >= pl.col("business_date")).fill_null(False).alias("bad"),
            pl.col("has_group_line").fill_null(False).alias("observed"),
        )
        .drop("line_bad_on", "has_line", "group_bad_on", "has_group_line")
        .sort("decision_id")
    )


def _summaries(frame: pl.DataFrame, outcome: str, limit: str, by: list[str]) -> pl.DataFrame:
    approved = pl.col(outcome) == "approved"
    counts = [
        pl.len().alias("decisions"),
        approved.sum().alias("approved"),
        (pl.col(outcome) == "referred").sum().alias("referred"),
        pl.col(limit).filter(approved).sum().alias("approved_limit_total_fen"),
        (approved & pl.col("bad")).sum().alias("bad"),
        (approved & ~pl.col("observed")).sum().alias("unobserved"),
    ]
    if not by:
        return frame.select(counts)
    return frame.group_by(by).agg(counts).sort(by)


def _summary(row: dict[str, Any], version: str, arm: str | None) -> Summary:
    return Summary(
        version=version,
        arm=arm,
        decisions=int(row["decisions"]),
        approved=int(row["approved"]),
        referred=int(row["referred"]),
        approved_limit_total_fen=int(row["approved_limit_total_fen"]),
        bad=int(row["bad"]),
        unobserved=int(row["unobserved"]),
    )


def backtest(conn: sa.Connection, text: str, start: date, end: date) -> Backtest:
    """Replay the candidate policy ``text`` on its group's stored application decisions
    dated ``start`` to ``end``, beside the versions that made them.

    Raises :class:`~crossline.policy.errors.PolicyError` for a policy that does not
    check, :class:`InputError` (field ``to``) for a window that ends before it starts.
    """
    if end < start:
        raise InputError("to", f"expected a date on or after {start.isoformat()}")
    bundle = check_policy(conn, text)
    catalog = catalog_from_json(platform.catalog_json(conn))
    stored = _stored_decisions(conn, bundle.group, start, end)
    known = {p.id: p.max_limit_fen for p in catalog.products}
    if unknown := sorted(set(stored.get_column("product").unique()) - set(known)):
        raise RefusedError("unknown_product", f"{unknown[0]!r} is not in the catalog in force")
    inputs = stored.select(pl.col("inputs").str.json_decode(pl.Struct(APPLICATION_INPUTS))).unnest(
        "inputs"
    )
    requests = pl.DataFrame(
        {
            "requested_limit_fen": inputs.get_column("requested_limit_fen"),
            "max_limit_fen": stored.get_column("product").replace_strict(
                known, return_dtype=pl.Int64()
            ),
            "headroom_fen": catalog.borrower_credit_cap_fen - inputs.get_column("group_limit_fen"),
        }
    )
    candidate = _outcome(_candidate_results(bundle.graphs["application"], inputs), requests)
    replayed = _outcome(_stored_results(stored.select("outputs")), requests)
    frame = stored.select(
        "decision_id",
        "borrower_id",
        "product",
        "business_date",
        "policy_version",
        "arm",
        "stored_outcome",
        pl.when(pl.col("stored_outcome") == "approved")
        .then(replayed.get_column("limit_fen"))
        .alias("stored_limit_fen"),
        candidate.get_column("status").alias("candidate_outcome"),
        candidate.get_column("limit_fen").alias("candidate_limit_fen"),
    )
    frame = _went_bad(frame, _bad_since(conn, bundle.group, start, end))
    versions = _summaries(frame, "stored_outcome", "stored_limit_fen", ["policy_version", "arm"])
    mine = _summaries(frame, "candidate_outcome", "candidate_limit_fen", []).row(0, named=True)
    changed = (
        frame.filter(pl.col("stored_outcome") != pl.col("candidate_outcome"))
        .group_by("stored_outcome", "candidate_outcome")
        .len()
    )
    swaps = dict.fromkeys(SWAPS, 0)
    for before, after, count in changed.iter_rows():
        swaps[f"{before}_to_{after}"] = int(count)
    return Backtest(
        group=bundle.group,
        start=start,
        end=end,
        stored=tuple(
            _summary(row, row["policy_version"], row["arm"])
            for row in versions.iter_rows(named=True)
        ),
        candidate=_summary(mine, bundle.version, None),
        swaps=swaps,
        decisions=frame,
    )
