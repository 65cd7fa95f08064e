"""The report's figures: portfolio, delinquency, vintages, scores, decisions, bureau.

Each function takes the ``Book`` read from the database and returns one tidy
frame that a chart draws and a sentence reads. Histories are rebuilt from
what the engine recorded when things happened — receivable postings for
balances, ``bucket_changed`` events for buckets, ``limit_changed`` events
for line status — so a day's figure is what the platform knew on that day,
not a later reconstruction. Month-end figures use the bureau records, the
one monthly snapshot the platform keeps of every account.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import polars as pl

from crossline.calendar import add_months
from crossline.kernels.bureau import is_negative
from crossline.kernels.delinquency import BUCKETS
from crossline.report.book import Book
from crossline.scoring.metrics import auc, ks, psi

BUCKET_ORDER: tuple[str, ...] = (*(label for _, label in BUCKETS), "M7+")
"""Buckets from current to worst, the order every bucket chart and roll rate uses."""
STATUSES = ("active", "paused", "frozen", "closed")
ADVERSE_ACTIONS = ("reduce", "pause", "freeze", "close")
"""Account-management actions that take credit away from a borrower."""
VINTAGE_DPD = 30
MODEL_BAD_DPD = 30
OUTCOME_MONTHS = 3
"""A simulated year is too short for the 12-month 90+ label the scorecard is
trained on to mature; 30+ within three months is the earliest serious
delinquency the bureau reports, so the model is judged on that."""
SCORE_CUTS = list(range(400, 950, 50))
"""Drift is measured on fixed 50-point bands: the first month's scores, of new
borrowers with thin files, bunch too tightly for quantile bins to mean anything."""
SCORE_BAND_WIDTH = 25


def _days(book: Book) -> pl.DataFrame:
    return pl.DataFrame(
        {"business_date": pl.date_range(book.first_day, book.last_day, "1d", eager=True)}
    )


def month_ends(book: Book) -> list[date]:
    """The closed month ends of the book, the dates monthly figures are taken on."""
    ends = _days(book).filter(pl.col("business_date") == pl.col("business_date").dt.month_end())
    return ends["business_date"].to_list()


def _running(book: Book, moves: pl.DataFrame, keys: list[str], value: str) -> pl.DataFrame:
    """Daily running totals of ``value`` per ``keys`` from dated moves, every day present."""
    grid = _days(book).join(moves.select(keys).unique(), how="cross")
    daily = moves.group_by("business_date", *keys).agg(pl.col(value).sum())
    return (
        grid.join(daily, on=["business_date", *keys], how="left")
        .with_columns(pl.col(value).fill_null(0))
        .sort(*keys, "business_date")
        .with_columns(pl.col(value).cum_sum().over(keys))
        .sort("business_date", *keys)
    )


def balances(book: Book) -> pl.DataFrame:
    """Receivables (principal, interest, fees, penalty) per product at each day's close."""
    return _running(book, book.postings, ["product"], "amount_fen").rename(
        {"amount_fen": "balance_fen"}
    )


def _transitions(
    opened: pl.DataFrame, changes: pl.DataFrame, before: str, after: str, keys: list[str]
) -> pl.DataFrame:
    """Dated moves of a count per ``keys`` and state: +1 into the state each line opened
    in (``opened`` has ``business_date``, the keys and ``state``), then for each change
    -1 out of ``before`` and +1 into ``after``."""
    left = changes.select("business_date", *keys, pl.col(before).alias("state"))
    entered = changes.select("business_date", *keys, pl.col(after).alias("state"))
    return pl.concat(
        [
            opened.with_columns(pl.lit(1).alias("lines")),
            left.with_columns(pl.lit(-1).alias("lines")),
            entered.with_columns(pl.lit(1).alias("lines")),
        ]
    )


def _opened_in(book: Book, state: str, keys: list[str]) -> pl.DataFrame:
    return book.lines.select(
        pl.col("opened_on").alias("business_date"), *keys, pl.lit(state).alias("state")
    )


def line_statuses(book: Book) -> pl.DataFrame:
    """Lines per product and status at each day's close: opened active, then each change."""
    changes = book.limit_events.filter(pl.col("old_status") != pl.col("status")).join(
        book.lines.select("credit_line_id", "product"), on="credit_line_id"
    )
    moves = _transitions(
        _opened_in(book, "active", ["product"]), changes, "old_status", "status", ["product"]
    )
    return _running(book, moves.rename({"state": "status"}), ["product", "status"], "lines")


def buckets(book: Book) -> pl.DataFrame:
    """Lines in each delinquency bucket at each day's close (every line starts in M0)."""
    changes = book.bucket_events.filter(pl.col("type") == "bucket_changed")
    moves = _transitions(_opened_in(book, "M0", []), changes, "from_bucket", "to_bucket", [])
    return _running(book, moves.rename({"state": "bucket"}), ["bucket"], "lines").filter(
        pl.col("bucket") != "M0"
    )


def buckets_on(book: Book, asked: pl.DataFrame) -> pl.DataFrame:
    """``asked`` (``credit_line_id``, ``day``) with each line's bucket at that day's close."""
    events = (
        book.bucket_events.filter(pl.col("type") == "bucket_changed")
        .select("credit_line_id", "business_date", "event_id", "to_bucket")
        .sort("business_date", "event_id")
    )
    return (
        asked.sort("day")
        .join_asof(
            events,
            left_on="day",
            right_on="business_date",
            by="credit_line_id",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(pl.col("to_bucket").fill_null("M0").alias("bucket"))
        .drop("business_date", "event_id", "to_bucket")
    )


def line_buckets_at(book: Book, days: list[date]) -> pl.DataFrame:
    """Each line's bucket at the close of each of ``days`` (lines opened by then)."""
    asked = (
        book.lines.select("credit_line_id", "opened_on")
        .join(pl.DataFrame({"day": days}, schema={"day": pl.Date()}), how="cross")
        .filter(pl.col("opened_on") <= pl.col("day"))
        .select("credit_line_id", "day")
    )
    return buckets_on(book, asked).sort("credit_line_id", "day")


def roll_rates(book: Book) -> pl.DataFrame:
    """Month to month, the share of lines in each bucket that moved one bucket worse.

    The classic roll rate: of the lines in M1 at one month end, how many were
    in M2 at the next. A line can only roll one bucket a month, so this is the
    share that did not cure or stay.
    """
    ends = month_ends(book)
    if len(ends) < 2:
        return pl.DataFrame(
            schema={
                "month": pl.Date(),
                "from_bucket": pl.String(),
                "lines": pl.UInt32(),
                "rolled": pl.UInt32(),
                "rate": pl.Float64(),
            }
        )
    states = line_buckets_at(book, ends)
    rank = {label: i for i, label in enumerate(BUCKET_ORDER)}
    following = dict(pairwise(ends))
    before = states.filter(pl.col("day") != ends[-1]).with_columns(
        pl.col("day").replace_strict(following, return_dtype=pl.Date).alias("month")
    )
    after = states.rename({"day": "month", "bucket": "next_bucket"})
    joined = before.join(after, on=["credit_line_id", "month"])
    worse = pl.col("next_bucket").replace_strict(rank) == pl.col("bucket").replace_strict(rank) + 1
    return (
        joined.filter(pl.col("bucket") != BUCKET_ORDER[-1])
        .group_by("month", pl.col("bucket").alias("from_bucket"))
        .agg(pl.len().alias("lines"), worse.sum().alias("rolled"))
        .with_columns((pl.col("rolled") / pl.col("lines")).alias("rate"))
        .sort("month", pl.col("from_bucket").replace_strict(rank))
    )


def _month_index(column: str) -> pl.Expr:
    return pl.col(column).dt.year() * 12 + pl.col(column).dt.month()


def vintages(book: Book) -> pl.DataFrame:
    """Share of each month's new lines that have been 30+ days late, by months on book.

    Months on book 0 is the month a line opened. A vintage's curve stops at
    the last month end every line of it has been observed to.
    """
    last = month_ends(book)
    if not last:
        return pl.DataFrame(
            schema={
                "vintage": pl.Date(),
                "months_on_book": pl.Int32(),
                "lines": pl.UInt32(),
                "ever_late": pl.UInt32(),
                "rate": pl.Float64(),
            }
        )
    lines = book.lines.filter(pl.col("opened_on") <= last[-1]).select(
        "credit_line_id", pl.col("opened_on").dt.month_start().alias("vintage")
    )
    late = (
        book.records.filter(pl.col("max_dpd") >= VINTAGE_DPD)
        .group_by("credit_line_id")
        .agg(pl.col("period_end").min().alias("first_late"))
    )
    horizon = pl.DataFrame(
        {"months_on_book": range(len(last))}, schema={"months_on_book": pl.Int32}
    )
    observed = _month_index("vintage") + pl.col("months_on_book") <= _month_index("last")
    return (
        lines.join(late, on="credit_line_id", how="left")
        .join(horizon, how="cross")
        .with_columns(pl.lit(last[-1]).alias("last"))
        .filter(observed)
        .with_columns(
            (_month_index("first_late") - _month_index("vintage") <= pl.col("months_on_book"))
            .fill_null(False)
            .alias("late")
        )
        .group_by("vintage", "months_on_book")
        .agg(pl.len().alias("lines"), pl.col("late").sum().alias("ever_late"))
        .with_columns((pl.col("ever_late") / pl.col("lines")).alias("rate"))
        .sort("vintage", "months_on_book")
    )


def month_end_delinquency(book: Book) -> pl.DataFrame:
    """Per month end: reported balance, and the shares of it 30+ and 90+ days past due."""
    return (
        book.records.group_by("period_end")
        .agg(
            pl.len().alias("accounts"),
            pl.col("balance_fen").sum(),
            pl.col("balance_fen").filter(pl.col("dpd") >= 30).sum().alias("dpd30_fen"),
            pl.col("balance_fen").filter(pl.col("dpd") >= 90).sum().alias("dpd90_fen"),
            is_negative(pl.col("status")).sum().alias("negative_reported"),
            is_negative(pl.col("actual_status")).sum().alias("negative_actual"),
        )
        .with_columns(
            (pl.col("dpd30_fen") / pl.col("balance_fen")).fill_nan(0.0).alias("dpd30_share"),
            (pl.col("dpd90_fen") / pl.col("balance_fen")).fill_nan(0.0).alias("dpd90_share"),
        )
        .sort("period_end")
    )


def ever_late_borrowers(book: Book) -> pl.DataFrame:
    """Borrowers with a line, and how many of them have been 30+ and 90+ days late."""
    worst = book.records.group_by("borrower_id").agg(pl.col("max_dpd").max())
    holders = book.lines.select("borrower_id").unique().join(worst, on="borrower_id", how="left")
    return holders.select(
        pl.len().alias("borrowers"),
        (pl.col("max_dpd") >= 30).sum().alias("ever_30"),
        (pl.col("max_dpd") >= 90).sum().alias("ever_90"),
    )


def score_bands(book: Book) -> pl.DataFrame:
    """Borrowers per group and 25-point score band at the last month end."""
    if book.snapshots.is_empty():
        return pl.DataFrame(
            schema={"lender_group": pl.String(), "band": pl.Int64(), "borrowers": pl.UInt32()}
        )
    last = book.snapshots["period_end"].max()
    return (
        book.snapshots.filter(pl.col("period_end") == last)
        .group_by(
            "lender_group", (pl.col("score") // SCORE_BAND_WIDTH * SCORE_BAND_WIDTH).alias("band")
        )
        .agg(pl.len().alias("borrowers"))
        .sort("lender_group", "band")
    )


def score_drift(book: Book) -> pl.DataFrame:
    """Per group and month end: mean score and PSI against the group's first month end."""
    rows = []
    for (group,), frame in book.snapshots.group_by("lender_group", maintain_order=True):
        periods = sorted(frame["period_end"].unique().to_list())
        base = frame.filter(pl.col("period_end") == periods[0])["score"].to_numpy()
        for period in periods:
            scores = frame.filter(pl.col("period_end") == period)["score"]
            rows.append(
                {
                    "lender_group": group,
                    "period_end": period,
                    "borrowers": scores.len(),
                    "mean_score": scores.mean(),
                    "psi": psi(base, scores.to_numpy(), SCORE_CUTS),
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "lender_group": pl.String(),
            "period_end": pl.Date(),
            "borrowers": pl.Int64(),
            "mean_score": pl.Float64(),
            "psi": pl.Float64(),
        },
    ).sort("lender_group", "period_end")


def application_outcomes(book: Book) -> pl.DataFrame:
    """Application decisions per product and outcome (approved, referred, declined)."""
    return (
        book.decisions.filter(pl.col("kind") == "application")
        .group_by("product", "outcome")
        .agg(pl.len().alias("decisions"))
        .sort("product", "outcome")
    )


REASON_TYPE = pl.Struct({"code": pl.String(), "text": pl.String()})
"""How a decision's reasons are stored: a JSON list of these."""


def top_reasons(book: Book, limit: int = 6) -> pl.DataFrame:
    """For applications (declined or referred) and for refused draws and purchases, the
    ``limit`` reasons given most often.

    Counted by code: a refusal's text can carry the amount, so the text shown
    is the first one given for the code.
    """
    said = book.decisions.filter(
        pl.col("outcome").is_in(["declined", "referred", "refused"])
    ).select(
        "decision_id",
        "kind",
        "outcome",
        pl.col("reasons").str.json_decode(pl.List(REASON_TYPE)).alias("reason"),
    )
    return (
        said.explode("reason")
        .drop_nulls("reason")
        .unnest("reason")
        .sort("decision_id")
        .group_by("kind", "outcome", "code")
        .agg(pl.col("text").first(), pl.len().alias("decisions"))
        .sort(["kind", "decisions", "outcome", "code"], descending=[False, True, False, False])
        .group_by("kind", maintain_order=True)
        .head(limit)
    )


def limit_actions(book: Book) -> pl.DataFrame:
    """Account-management actions per month, product and action."""
    return (
        book.decisions.filter(pl.col("kind") == "review")
        .group_by(pl.col("business_date").dt.month_start().alias("month"), "product", "outcome")
        .agg(pl.len().alias("actions"))
        .rename({"outcome": "action"})
        .sort("month", "product", "action")
    )


def bureau_activity(book: Book) -> pl.DataFrame:
    """Per month: pre-report notices, accounts reported and reported negative, inquiries
    by reason, disputes filed, answered and overdue."""
    month = pl.col("day").dt.month_start().alias("month")
    notices = book.notifications.filter(pl.col("kind") == "pre_report_notice").select(
        pl.col("business_date").alias("day"), pl.lit("notices").alias("what"), "count"
    )
    reported = book.records.select(
        pl.col("period_end").alias("day"),
        pl.lit("accounts reported").alias("what"),
        pl.lit(1).alias("count"),
    )
    negative = book.records.filter(is_negative(pl.col("status"))).select(
        pl.col("period_end").alias("day"),
        pl.lit("negative records").alias("what"),
        pl.lit(1).alias("count"),
    )
    inquiries = book.inquiries.select(
        pl.col("inquired_on").alias("day"),
        pl.concat_str(pl.lit("inquiries: "), "reason").alias("what"),
        "count",
    )
    disputes = pl.concat(
        [
            book.disputes.select(
                pl.col(day).alias("day"), pl.lit(what).alias("what"), pl.lit(1).alias("count")
            ).drop_nulls("day")
            for day, what in (
                ("filed_on", "disputes filed"),
                ("resolved_on", "disputes answered"),
                ("alerted_on", "disputes overdue"),
            )
        ]
    )
    parts = [notices, reported, negative, inquiries, disputes]
    return (
        pl.concat([p.cast({"count": pl.Int64}) for p in parts])
        .group_by(month, "what")
        .agg(pl.col("count").sum())
        .sort("month", "what")
    )


def _observations(book: Book) -> pl.DataFrame:
    """Month-end scores of borrowers holding a line and never 30+ days late by then, each
    labelled bad if any of their accounts reached 30 DPD in the following months."""
    ends = [end for end in month_ends(book) if add_months(end, OUTCOME_MONTHS) <= book.last_day]
    late = book.records.filter(pl.col("max_dpd") >= MODEL_BAD_DPD).select(
        "borrower_id", pl.col("period_end").alias("late_on")
    )
    observed = book.snapshots.filter(pl.col("period_end").is_in(ends)).join(
        book.lines.select("borrower_id", "opened_on"), on="borrower_id"
    )
    held = (
        observed.filter(pl.col("opened_on") <= pl.col("period_end"))
        .select("borrower_id", "lender_group", "period_end", "score")
        .unique()
    )
    horizon = pl.col("period_end").dt.offset_by(f"{OUTCOME_MONTHS}mo").dt.month_end()
    labels = (
        held.select("borrower_id", "period_end")
        .unique()
        .join(late, on="borrower_id")
        .group_by("borrower_id", "period_end")
        .agg(
            (pl.col("late_on") <= pl.col("period_end")).any().alias("already"),
            ((pl.col("late_on") > pl.col("period_end")) & (pl.col("late_on") <= horizon))
            .any()
            .alias("bad"),
        )
    )
    return (
        held.join(labels, on=["borrower_id", "period_end"], how="left")
        .filter(~pl.col("already").fill_null(False))
        .with_columns(pl.col("bad").fill_null(False))
        .drop("already")
        .sort("lender_group", "period_end", "borrower_id")
    )


def model_quality(book: Book) -> pl.DataFrame:
    """How well each group's month-end score ranked who went 30+ days late next.

    Every month end with three months of book after it is an observation of
    the borrowers who held a line and had never been 30+ late; the outcome
    is any of their accounts reaching 30 days past due in those three months.
    The observations are pooled, as a behaviour score is judged in practice.
    """
    schema = {
        "lender_group": pl.String(),
        "observations": pl.Int64(),
        "bads": pl.Int64(),
        "auc": pl.Float64(),
        "ks": pl.Float64(),
    }
    rows = []
    for (group,), frame in _observations(book).group_by("lender_group", maintain_order=True):
        bad = frame["bad"].to_numpy()
        both = 0 < bad.sum() < bad.size
        score = frame["score"].to_numpy()
        rows.append(
            {
                "lender_group": group,
                "observations": frame.height,
                "bads": int(bad.sum()),
                "auc": auc(bad, score, higher_is_riskier=False) if both else None,
                "ks": ks(bad, score) if both else None,
            }
        )
    return pl.DataFrame(rows, schema=schema)
