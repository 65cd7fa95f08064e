"""Contagion: when a borrower goes overdue on one product, what happens to the others?

This is the seeds' question ("I was late on Huabei; can I still borrow on
Weilidai?") answered from the book. An *episode* is one overdue spell of a
line: it starts with an ``overdue_started`` event and ends with the line's
next ``cured``. Every action that took credit from a line (reduce, pause,
freeze, close) while that line was itself current is attributed to the
overdue the policy was reacting to, among those its lender group could see:
every episode on the group's own lines, and an episode on another group's
line only once a month-end bureau record showed it late. Of those, the
latest still open that day wins, or, if none was, the latest that began on
or before it (a bureau record can show a spell already cured); on a tie, an
episode in the action's own group comes first, as that group sees it at once.
A short spell on Huabei is thus not credited with Weilidai's reaction to a
reported Fenqile overdue that ran at the same time. An action on a
line that is late in its own right is its own delinquency, not contagion,
and is not counted. For each episode and each other line the borrower held
when it began, the measure gives the first action attributed to it and how
many days after the overdue began it came.

Same-group lines (Huabei and Jiebei, both ant) see the overdue at once;
other groups see it only once it is reported to the bureau at a month end,
and only if it reached the reporting threshold. The measure splits by both:
whether the other line is in the same group, and whether the overdue grew
past 30 days (``M2`` or worse), the point from which it is reportable.
Borrowers who were never late give the base rate: how often credit is taken
from a current line for no delinquency of the borrower at all.
"""

from __future__ import annotations

import polars as pl

from crossline.kernels.bureau import NEGATIVE_STATUSES
from crossline.report.book import Book
from crossline.report.measures import ADVERSE_ACTIONS, BUCKET_ORDER, REASON_TYPE, buckets_on

REPORTABLE_BUCKET = "M2"
"""The first bucket past 30 days: from here an overdue is reported (DOMAIN §3)."""
_RANK = {label: i for i, label in enumerate(BUCKET_ORDER)}


_EPISODE = ["credit_line_id", "overdue_on"]


def episodes(book: Book) -> pl.DataFrame:
    """Every overdue spell of every line: when it began, when it was cured (if it was by
    the end of the book) and the worst bucket it reached in between."""
    events = book.bucket_events
    started = (
        events.filter(pl.col("type") == "overdue_started")
        .select("credit_line_id", pl.col("business_date").alias("overdue_on"))
        .unique()
    )
    cured = (
        started.join(events.filter(pl.col("type") == "cured"), on="credit_line_id")
        .filter(pl.col("business_date") > pl.col("overdue_on"))
        .group_by(_EPISODE)
        .agg(pl.col("business_date").min().alias("cured_on"))
    )
    within = (pl.col("business_date") >= pl.col("overdue_on")) & (
        pl.col("cured_on").is_null() | (pl.col("business_date") <= pl.col("cured_on"))
    )
    peak = (
        started.join(cured, on=_EPISODE, how="left")
        .join(events.filter(pl.col("type") == "bucket_changed"), on="credit_line_id")
        .filter(within)
        .group_by(_EPISODE)
        .agg(pl.col("to_bucket").replace_strict(_RANK).max().alias("peak_rank"))
    )
    return (
        started.join(cured, on=_EPISODE, how="left")
        .join(peak, on=_EPISODE, how="left")
        .join(
            book.lines.select("credit_line_id", "borrower_id", "lender_group", "product"),
            on="credit_line_id",
        )
        .with_columns(
            pl.col("peak_rank")
            .fill_null(_RANK["M1"])
            .replace_strict(dict(enumerate(BUCKET_ORDER)), return_dtype=pl.String)
            .alias("peak_bucket")
        )
        .drop("peak_rank")
        .sort(_EPISODE)
    )


def adverse_actions(book: Book) -> pl.DataFrame:
    """Every action that took credit from a line, the reason the borrower was given, and
    that line's own bucket that day: what ``pairs`` and ``base_rate`` both count."""
    reasons = book.decisions.select(
        "decision_id",
        pl.col("reasons")
        .str.json_decode(pl.List(REASON_TYPE))
        .list.first()
        .struct.field("text")
        .alias("reason"),
    )
    actions = (
        book.limit_events.filter(pl.col("action").is_in(ADVERSE_ACTIONS))
        .drop("reason")
        .join(reasons, on="decision_id", how="left")
        .select(
            pl.col("event_id").alias("action_id"),
            "credit_line_id",
            pl.col("business_date").alias("day"),
            "action",
            "reason",
        )
    )
    return buckets_on(book, actions)


def _reported(book: Book, source: pl.DataFrame) -> pl.DataFrame:
    """The first month end at which the bureau showed each episode late: a negative record
    of its line from the month it began to the month it was cured."""
    negative = book.records.filter(pl.col("status").is_in(NEGATIVE_STATUSES)).select(
        pl.col("credit_line_id").alias("source_line"), "period_end"
    )
    return (
        source.join(negative, on="source_line")
        .filter(
            (pl.col("period_end") >= pl.col("overdue_on"))
            & (
                pl.col("cured_on").is_null()
                | (pl.col("period_end") <= pl.col("cured_on").dt.month_end())
            )
        )
        .group_by("source_line", "overdue_on")
        .agg(pl.col("period_end").min().alias("reported_on"))
    )


def _attributed(book: Book, source: pl.DataFrame, adverse: pl.DataFrame) -> pl.DataFrame:
    """Each action on a current line with the episode it answered (see the module's
    docstring): of the overdues its group could see, the latest open that day, else the
    latest begun by then; one in the line's own group first on a tie."""
    current = (
        adverse.filter(pl.col("bucket") == "M0")
        .join(
            book.lines.select(
                pl.col("credit_line_id").alias("other_line"),
                "borrower_id",
                pl.col("lender_group").alias("other_group"),
            ),
            left_on="credit_line_id",
            right_on="other_line",
        )
        .rename({"credit_line_id": "other_line", "day": "acted_on"})
    )
    visible = (pl.col("source_group") == pl.col("other_group")) | (
        pl.col("reported_on") <= pl.col("acted_on")
    )
    return (
        current.join(
            source.join(_reported(book, source), on=["source_line", "overdue_on"], how="left"),
            on="borrower_id",
        )
        .filter(
            (pl.col("source_line") != pl.col("other_line"))
            & (pl.col("overdue_on") <= pl.col("acted_on"))
            & visible
        )
        .sort(
            [
                "action_id",
                pl.col("cured_on").is_null() | (pl.col("cured_on") >= pl.col("acted_on")),
                "overdue_on",
                pl.col("source_group") == pl.col("other_group"),
                "source_line",
            ],
            descending=[False, True, True, True, False],
        )
        .group_by("action_id", maintain_order=True)
        .first()
        .select(
            "source_line", "overdue_on", "other_line", "action_id", "action", "reason", "acted_on"
        )
    )


def pairs(book: Book, adverse: pl.DataFrame | None = None) -> pl.DataFrame:
    """Each episode with each other line its borrower held on the day it began, and the
    first action attributed to it on that other line (see the module's docstring).

    ``adverse``: ``adverse_actions(book)`` when the caller has measured it (the
    report measures it once for this and ``base_rate``), or measured here."""
    if adverse is None:
        adverse = adverse_actions(book)
    source = episodes(book).rename(
        {
            "credit_line_id": "source_line",
            "lender_group": "source_group",
            "product": "source_product",
        }
    )
    others = book.lines.select(
        pl.col("credit_line_id").alias("other_line"),
        "borrower_id",
        pl.col("lender_group").alias("other_group"),
        pl.col("product").alias("other_product"),
        "opened_on",
    )
    held = source.join(others, on="borrower_id").filter(
        (pl.col("other_line") != pl.col("source_line"))
        & (pl.col("opened_on") <= pl.col("overdue_on"))
    )
    key = ["source_line", "overdue_on", "other_line"]
    first_action = (
        _attributed(
            book,
            source.select("borrower_id", "source_line", "source_group", "overdue_on", "cured_on"),
            adverse,
        )
        .sort("acted_on", "action_id")
        .group_by(key, maintain_order=True)
        .first()
        .drop("action_id")
    )
    return (
        held.join(first_action, on=key, how="left")
        .with_columns(
            (pl.col("source_group") == pl.col("other_group")).alias("same_group"),
            (pl.col("peak_bucket").replace_strict(_RANK) >= _RANK[REPORTABLE_BUCKET]).alias(
                "past_30"
            ),
            (pl.col("acted_on") - pl.col("overdue_on")).dt.total_days().alias("days"),
        )
        .select(
            "borrower_id",
            "source_line",
            "source_group",
            "source_product",
            "overdue_on",
            "cured_on",
            "peak_bucket",
            "past_30",
            "other_line",
            "other_group",
            "other_product",
            "same_group",
            "action",
            "reason",
            "acted_on",
            "days",
        )
        .sort("source_line", "overdue_on", "other_line")
    )


def summary(contagion: pl.DataFrame) -> pl.DataFrame:
    """Per (late product, other product, worse than 30 days): how many other lines were
    held, how many lost credit, the share, and the days it took (median and fastest)."""
    return (
        contagion.group_by("source_product", "other_product", "same_group", "past_30")
        .agg(
            pl.len().alias("held"),
            pl.col("action").is_not_null().sum().alias("acted"),
            pl.col("days").median().alias("median_days"),
            pl.col("days").min().alias("fastest_days"),
        )
        .with_columns((pl.col("acted") / pl.col("held")).alias("share"))
        .sort("source_product", "other_product", "past_30")
    )


def base_rate(book: Book, adverse: pl.DataFrame | None = None) -> pl.DataFrame:
    """Lines of borrowers never late on anything, and how many lost credit anyway;
    ``adverse`` as for ``pairs``."""
    if adverse is None:
        adverse = adverse_actions(book)
    late_borrowers = book.bucket_events.filter(pl.col("type") == "overdue_started").join(
        book.lines.select("credit_line_id", "borrower_id"), on="credit_line_id"
    )["borrower_id"]
    clean = book.lines.filter(~pl.col("borrower_id").is_in(late_borrowers.implode()))
    acted = adverse["credit_line_id"]
    return clean.select(
        pl.len().alias("lines"),
        pl.col("credit_line_id").is_in(acted.implode()).sum().alias("acted"),
    ).with_columns((pl.col("acted") / pl.col("lines")).fill_nan(0.0).alias("share"))
