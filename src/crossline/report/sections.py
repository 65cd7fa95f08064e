"""The report's sections: for each question, the chart that shows it and the sentence
that reads it.

A section is built from the measures only, so the numbers a reader sees in a
sentence are the numbers the chart draws, and a test that recomputes the
measures from the database checks both. Money is shown in whole yuan
(integer division of fen), never through a float.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
from plotly.basedatatypes import BaseTraceType
from plotly.subplots import make_subplots

from crossline.report import contagion, measures
from crossline.report.book import Book

PRODUCT_NAMES = {
    "huabei": "Huabei",
    "jiebei": "Jiebei",
    "weilidai": "Weilidai",
    "fenqile": "Fenqile",
}
PUBLIC_90_RANGE = (0.01, 0.03)
"""The 90+ DPD rates public figures give for prime online consumer credit."""


@dataclass(frozen=True, slots=True)
class Section:
    """One question of the report: a heading, its chart and the sentence under it."""

    key: str
    title: str
    figure: go.Figure
    reading: str


@dataclass(frozen=True, slots=True)
class Measured:
    """The measures more than one part of a build reads, each measured once: the key
    figures repeat what sections show, and contagion's pairs and base rate both start
    from the adverse actions. ``measure`` fills it; the readers take its frames."""

    balances: pl.DataFrame
    month_end: pl.DataFrame
    ever_late: pl.DataFrame
    outcomes: pl.DataFrame
    actions: pl.DataFrame
    adverse: pl.DataFrame


def measure(book: Book) -> Measured:
    """The shared measures of ``book`` (see ``Measured``)."""
    return Measured(
        balances=measures.balances(book),
        month_end=measures.month_end_delinquency(book),
        ever_late=measures.ever_late_borrowers(book),
        outcomes=measures.application_outcomes(book),
        actions=measures.limit_actions(book),
        adverse=contagion.adverse_actions(book),
    )


def yuan(fen: int) -> str:
    """Whole yuan with thousands separators, from integer fen."""
    return f"¥{fen // 100:,}"


def percent(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share * 100:.{digits}f}%"


def product_name(product: str) -> str:
    return PRODUCT_NAMES.get(product, product)


def _each(
    figure: go.Figure,
    frame: pl.DataFrame,
    column: str,
    trace: Callable[[str, pl.DataFrame], BaseTraceType],
    row: int = 1,
    col: int = 1,
) -> None:
    """One trace per value of ``column``, in the frame's order, each drawn by ``trace``
    from that value and its rows."""
    for (value,), part in frame.group_by(column, maintain_order=True):
        figure.add_trace(trace(str(value), part), row=row, col=col)


def _next_bucket(bucket: str) -> str:
    return measures.BUCKET_ORDER[measures.BUCKET_ORDER.index(bucket) + 1]


def _months(column: pl.Series) -> list[str]:
    """Month starts as ``YYYY-MM`` labels: a monthly bar belongs to its month, not a day."""
    return column.dt.strftime("%Y-%m").to_list()


def _figure(rows: int = 1, cols: int = 1, titles: tuple[str, ...] = ()) -> go.Figure:
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=titles or None)
    figure.update_layout(height=380 * rows, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return figure


def portfolio(book: Book, balances: pl.DataFrame) -> Section:
    statuses = measures.line_statuses(book)
    figure = _figure(2, 1, ("Receivables by product (yuan)", "Active lines by product"))
    _each(
        figure,
        balances,
        "product",
        lambda product, frame: go.Scatter(
            x=frame["business_date"].to_list(),
            y=(frame["balance_fen"] // 100).to_list(),
            name=product_name(product),
            legendgroup=product,
        ),
    )
    _each(
        figure,
        statuses.filter(pl.col("status") == "active"),
        "product",
        lambda product, frame: go.Scatter(
            x=frame["business_date"].to_list(),
            y=frame["lines"].to_list(),
            name=product_name(product),
            legendgroup=product,
            showlegend=False,
        ),
        row=2,
    )
    return Section(
        "portfolio", "Portfolio over time", figure, portfolio_reading(book, balances, statuses)
    )


def portfolio_reading(book: Book, balances: pl.DataFrame, statuses: pl.DataFrame) -> str:
    last = balances.filter(pl.col("business_date") == book.last_day).sort(
        "balance_fen", descending=True
    )
    total = int(last["balance_fen"].sum())
    if last.is_empty() or total == 0:
        return f"On {book.last_day} the book held no receivables."
    top = last.row(0, named=True)
    lines = statuses.filter(pl.col("business_date") == book.last_day)
    active = int(lines.filter(pl.col("status") == "active")["lines"].sum())
    held_back = int(lines.filter(pl.col("status") != "active")["lines"].sum())
    return (
        f"On {book.last_day} borrowers owed {yuan(total)} across {active} active lines "
        f"({held_back} more paused, frozen or closed); {product_name(top['product'])} carried "
        f"the most, {yuan(top['balance_fen'])} ({percent(top['balance_fen'] / total)})."
    )


def delinquency(book: Book, monthly: pl.DataFrame, ever_late: pl.DataFrame) -> Section:
    daily = measures.buckets(book)
    figure = _figure(
        2, 1, ("Late lines by bucket at each close", "Share of reported balance past due")
    )
    for bucket in measures.BUCKET_ORDER[1:]:
        frame = daily.filter(pl.col("bucket") == bucket)
        if frame.is_empty() or frame["lines"].max() == 0:
            continue
        figure.add_trace(
            go.Scatter(
                x=frame["business_date"].to_list(),
                y=frame["lines"].to_list(),
                name=bucket,
                stackgroup="buckets",
            ),
            row=1,
            col=1,
        )
    for column, name in (("dpd30_share", "30+ DPD"), ("dpd90_share", "90+ DPD")):
        figure.add_trace(
            go.Scatter(
                x=monthly["period_end"].to_list(),
                y=(monthly[column] * 100).to_list(),
                name=f"{name} (% of balance)",
                mode="lines+markers",
            ),
            row=2,
            col=1,
        )
    return Section(
        "delinquency",
        "Delinquency buckets",
        figure,
        delinquency_reading(monthly, ever_late.row(0, named=True)),
    )


def delinquency_reading(monthly: pl.DataFrame, ever: dict[str, int]) -> str:
    """The month-end 90+ share set against the public figures it is calibrated to, which
    are shares of balance too."""
    if monthly.is_empty():
        return "No month has closed yet, so nothing has been reported."
    last = monthly.row(-1, named=True)
    low, high = PUBLIC_90_RANGE
    rate = last["dpd90_share"]
    against = "within" if low <= rate <= high else ("below" if rate < low else "above")
    borrowers = ever["borrowers"]
    return (
        f"At {last['period_end']}, {percent(last['dpd30_share'])} of the reported balance was "
        f"30+ days past due and {percent(rate)} was 90+, {against} the 1–3% that public "
        f"figures give for prime online consumer credit; {ever['ever_90']} of {borrowers} "
        f"borrowers with a line "
        f"({percent(ever['ever_90'] / borrowers if borrowers else None)}) reached 90 days "
        f"late during the run."
    )


def pooled_roll_rates(rolls: pl.DataFrame) -> pl.DataFrame:
    """Roll rates over the whole run: lines that rolled over lines that could, per bucket."""
    rank = {label: i for i, label in enumerate(measures.BUCKET_ORDER)}
    return (
        rolls.group_by("from_bucket")
        .agg(pl.col("lines").sum(), pl.col("rolled").sum())
        .with_columns((pl.col("rolled") / pl.col("lines")).alias("rate"))
        .sort(pl.col("from_bucket").replace_strict(rank))
    )


def roll_rates(book: Book) -> Section:
    rolls = measures.roll_rates(book)
    figure = _figure(1, 1, ("Roll rate to the next bucket, month on month (%)",))
    _each(
        figure,
        rolls,
        "from_bucket",
        lambda bucket, frame: go.Scatter(
            x=frame["month"].to_list(),
            y=(frame["rate"] * 100).to_list(),
            name=f"{bucket}→{_next_bucket(bucket)}",
            mode="lines+markers",
            customdata=frame.select("rolled", "lines").rows(),
            hovertemplate="%{customdata[0]} of %{customdata[1]} lines<extra></extra>",
        ),
    )
    pooled = pooled_roll_rates(rolls)
    return Section("roll_rates", "Roll rates", figure, roll_rates_reading(pooled))


def roll_rates_reading(pooled: pl.DataFrame) -> str:
    if pooled.is_empty():
        return "Roll rates need two closed month ends; this book has fewer."
    parts = []
    for row in pooled.head(3).iter_rows(named=True):
        parts.append(
            f"{percent(row['rate'])} of lines in {row['from_bucket']} rolled to "
            f"{_next_bucket(row['from_bucket'])} "
            f"({row['rolled']} of {row['lines']})"
        )
    return "Month on month over the run, " + "; ".join(parts) + "."


def vintages(book: Book) -> Section:
    curves = measures.vintages(book)
    figure = _figure(1, 1, ("Lines ever 30+ days late, by months on book (%)",))
    _each(
        figure,
        curves,
        "vintage",
        lambda vintage, frame: go.Scatter(
            x=frame["months_on_book"].to_list(),
            y=(frame["rate"] * 100).to_list(),
            name=f"opened {vintage[:7]}",
            mode="lines+markers",
        ),
    )
    figure.update_xaxes(title_text="months on book")
    return Section("vintages", "Vintage curves", figure, vintages_reading(curves))


def vintages_reading(curves: pl.DataFrame) -> str:
    if curves.is_empty():
        return "No vintage has reached its first month end yet."
    sizes = (
        curves.group_by("vintage")
        .agg(pl.col("lines").first())
        .sort(["lines", "vintage"], descending=[True, False])
    )
    largest = sizes.row(0, named=True)["vintage"]
    latest = curves.filter(pl.col("vintage") == largest).row(-1, named=True)
    return (
        f"Of the {latest['lines']} lines opened in {largest:%B %Y}, the largest vintage, "
        f"{latest['ever_late']} ({percent(latest['rate'])}) had been 30+ days late after "
        f"{latest['months_on_book']} months on book."
    )


def scores(book: Book) -> Section:
    bands = measures.score_bands(book)
    drift = measures.score_drift(book)
    figure = _figure(
        1, 2, ("Score distribution at the last month end", "Mean score at each month end")
    )
    _each(
        figure,
        bands,
        "lender_group",
        lambda group, frame: go.Bar(
            x=frame["band"].to_list(),
            y=frame["borrowers"].to_list(),
            name=group,
            legendgroup=group,
        ),
    )
    _each(
        figure,
        drift,
        "lender_group",
        lambda group, frame: go.Scatter(
            x=frame["period_end"].to_list(),
            y=frame["mean_score"].to_list(),
            name=group,
            legendgroup=group,
            showlegend=False,
            customdata=frame["psi"].to_list(),
            hovertemplate="mean %{y:.1f}, PSI %{customdata:.3f}<extra></extra>",
        ),
        col=2,
    )
    figure.update_layout(barmode="group")
    return Section("scores", "Scores by lender group", figure, scores_reading(drift))


def scores_reading(drift: pl.DataFrame) -> str:
    if drift.is_empty():
        return "No month end has been scored yet."
    last = drift.filter(pl.col("period_end") == pl.col("period_end").max())
    means = ", ".join(
        f"{row['lender_group']} {row['mean_score']:.0f}" for row in last.iter_rows(named=True)
    )
    moved = last.sort("psi", descending=True).row(0, named=True)
    return (
        f"At {moved['period_end']} the mean score was {means}; {moved['lender_group']}'s view "
        f"moved most since the first month end (PSI {moved['psi']:.2f}, above 0.25 is a shift), "
        f"as borrowers' files filled with their own repayment history."
    )


def decisions(book: Book, outcomes: pl.DataFrame) -> Section:
    reasons = measures.top_reasons(book)
    figure = _figure(2, 1, ("Applications by product and outcome", "Most frequent reasons"))
    _each(
        figure,
        outcomes,
        "outcome",
        lambda outcome, frame: go.Bar(
            x=[product_name(p) for p in frame["product"].to_list()],
            y=frame["decisions"].to_list(),
            name=outcome,
        ),
    )
    labels = [
        f"{row['text']} ({row['kind']}, {row['outcome']})" for row in reasons.iter_rows(named=True)
    ]
    figure.add_trace(
        go.Bar(x=reasons["decisions"].to_list(), y=labels, orientation="h", showlegend=False),
        row=2,
        col=1,
    )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(autorange="reversed", automargin=True, row=2, col=1)
    return Section(
        "decisions", "Decisions and their reasons", figure, decisions_reading(outcomes, reasons)
    )


def decisions_reading(outcomes: pl.DataFrame, reasons: pl.DataFrame) -> str:
    total = int(outcomes["decisions"].sum())
    if total == 0:
        return "No application has been decided."
    count = {
        outcome: int(outcomes.filter(pl.col("outcome") == outcome)["decisions"].sum())
        for outcome in ("approved", "referred", "declined")
    }
    sentence = (
        f"{count['approved']} of {total} applications were approved "
        f"({percent(count['approved'] / total)}), {count['referred']} referred for documents "
        f"and {count['declined']} declined"
    )
    said = reasons.filter(pl.col("kind") == "application")
    if said.is_empty():
        return sentence + "."
    top = said.row(0, named=True)
    return (
        sentence + f"; the reason an application was given most often was “{top['text']}” "
        f"({top['decisions']} times)."
    )


def limit_actions(book: Book, actions: pl.DataFrame | None = None) -> Section:
    """``actions``: ``measures.limit_actions(book)`` when the build has measured it, or
    measured here (the section drawn on its own)."""
    if actions is None:
        actions = measures.limit_actions(book)
    monthly = (
        actions.group_by("month", "action").agg(pl.col("actions").sum()).sort("month", "action")
    )
    figure = _figure(1, 1, ("Account-management actions per month",))
    _each(
        figure,
        monthly,
        "action",
        lambda action, frame: go.Bar(
            x=_months(frame["month"]), y=frame["actions"].to_list(), name=action
        ),
    )
    figure.update_layout(barmode="stack")
    return Section("limit_actions", "Limit actions", figure, limit_actions_reading(actions))


def _adverse_count(actions: pl.DataFrame) -> int:
    """How many of ``measures.limit_actions`` took credit away."""
    return int(actions.filter(pl.col("action").is_in(measures.ADVERSE_ACTIONS))["actions"].sum())


def limit_actions_reading(actions: pl.DataFrame) -> str:
    if actions.is_empty():
        return "The policies took no limit action."
    adverse = _adverse_count(actions)
    kinder = int(actions["actions"].sum()) - adverse
    busiest = (
        actions.group_by("month")
        .agg(pl.col("actions").sum())
        .sort(["actions", "month"], descending=[True, False])
    ).row(0, named=True)
    return (
        f"The policies took {adverse} actions that reduced, paused, froze or closed a line and "
        f"{kinder} that restored or raised one; the busiest month was {busiest['month']:%B %Y} "
        f"({busiest['actions']} actions)."
    )


def contagion_section(book: Book, adverse: pl.DataFrame) -> Section:
    pairs = contagion.pairs(book, adverse)
    summary = contagion.summary(pairs)
    base = contagion.base_rate(book, adverse).row(0, named=True)
    figure = _figure(
        1, 2, ("Other lines that lost credit (%)", "Days from the overdue to the action")
    )
    for past_30, name in (
        (False, "overdue ended within 30 days"),
        (True, "overdue passed 30 days"),
    ):
        frame = summary.filter(pl.col("past_30") == past_30)
        figure.add_trace(
            go.Bar(
                y=[
                    f"{product_name(s)} late → {product_name(o)}"
                    for s, o in frame.select("source_product", "other_product").rows()
                ],
                x=(frame["share"] * 100).to_list(),
                orientation="h",
                name=name,
                customdata=frame.select("acted", "held").rows(),
                hovertemplate="%{customdata[0]} of %{customdata[1]}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    acted = pairs.filter(pl.col("action").is_not_null())
    for same, name in ((True, "same lender group"), (False, "other lender group")):
        frame = acted.filter(pl.col("same_group") == same)
        figure.add_trace(
            go.Box(y=frame["days"].to_list(), name=name, boxpoints="all", showlegend=False),
            row=1,
            col=2,
        )
    figure.update_layout(barmode="group")
    figure.update_yaxes(automargin=True, row=1, col=1)
    return Section(
        "contagion",
        "Contagion: an overdue on one product, and the others",
        figure,
        contagion_reading(pairs, base),
    )


def _days(count: float) -> str:
    return f"{count:.0f} day" + ("" if round(count) == 1 else "s")


def _median_days(acted: pl.DataFrame) -> str:
    return _days(acted.select(pl.col("days").median()).item())


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _spread(pairs: pl.DataFrame, same_group: bool) -> str:
    held = pairs.filter(pl.col("same_group") == same_group)
    acted = held.filter(pl.col("action").is_not_null())
    where = "in the same lender group" if same_group else "with other lender groups"
    if held.is_empty():
        return f"no borrower who went late held a line {where}"
    sentence = f"the borrower's lines {where} lost credit in {acted.height} of {held.height} cases"
    if acted.is_empty():
        return sentence
    return sentence + f", a median of {_median_days(acted)} after the overdue began"


def huabei_to_weilidai(pairs: pl.DataFrame) -> str:
    """The seeds' own question, answered from the run: late on Huabei, what of Weilidai?"""
    held = pairs.filter(
        (pl.col("source_product") == "huabei") & (pl.col("other_product") == "weilidai")
    )
    if held.is_empty():
        return "No borrower late on Huabei held Weilidai in this run."
    deep = held.filter(pl.col("past_30"))
    acted = held.filter(pl.col("action").is_not_null())
    sentence = (
        f"Late on Huabei while holding Weilidai: {_count(held.height, 'overdue spell')} of "
        f"{_count(held['borrower_id'].n_unique(), 'borrower')}, {deep.height} of them past "
        f"30 days; Weilidai was cut after {acted.height}"
    )
    if acted.is_empty():
        return sentence + "."
    first = acted.sort("acted_on", "borrower_id").row(0, named=True)
    return sentence + (
        f", a median of {_median_days(acted)} after the Huabei overdue began "
        f"(first: {first['borrower_id']}, late on Huabei from {first['overdue_on']}, Weilidai "
        f"{_past(first['action'])} on {first['acted_on']}: “{first['reason']}”)."
    )


def contagion_reading(pairs: pl.DataFrame, base: dict[str, float]) -> str:
    """How far an overdue spreads, the seeds' own case, and the base rate to judge it by."""
    if pairs.is_empty():
        return "No borrower who went late held another line, so there was nothing to spread to."
    return (
        f"When a borrower went late on one product, {_spread(pairs, True)}; "
        f"{_spread(pairs, False)}. Lines of borrowers never late lost credit "
        f"{base['acted']} times in {base['lines']} ({percent(base['share'])}). "
        + huabei_to_weilidai(pairs)
    )


def _past(action: str) -> str:
    return {"reduce": "reduced", "pause": "paused", "freeze": "frozen", "close": "closed"}[action]


BUREAU_VOLUMES = ("accounts reported",)
"""The large monthly counts (with the inquiries), drawn apart from the rare events so both
can be read."""


def bureau(book: Book) -> Section:
    activity = measures.bureau_activity(book)
    figure = _figure(
        2, 1, ("Accounts reported and inquiries", "Notices, negative records and disputes")
    )
    volumes = pl.col("what").is_in(BUREAU_VOLUMES) | pl.col("what").str.starts_with("inquiries")
    for row, part in ((1, activity.filter(volumes)), (2, activity.filter(~volumes))):
        _each(
            figure,
            part,
            "what",
            lambda what, frame: go.Bar(
                x=_months(frame["month"]), y=frame["count"].to_list(), name=what
            ),
            row=row,
        )
    figure.update_layout(barmode="group")
    return Section("bureau", "Credit bureau", figure, bureau_reading(activity))


def bureau_reading(activity: pl.DataFrame) -> str:
    totals = dict(activity.group_by("what").agg(pl.col("count").sum()).rows())

    def total(what: str) -> int:
        return int(totals.get(what, 0))

    return (
        f"The providers sent {total('notices')} pre-report notices and reported "
        f"{total('accounts reported')} account-months, {total('negative records')} of them "
        f"negative; borrowers filed {total('disputes filed')} disputes, "
        f"{total('disputes answered')} were answered and {total('disputes overdue')} ran past "
        f"the 20 days."
    )


def model(book: Book) -> Section:
    quality = measures.model_quality(book)
    figure = _figure(1, 1, ("How well each group's score ranked the next 3 months",))
    for metric in ("auc", "ks"):
        figure.add_trace(
            go.Bar(
                x=quality["lender_group"].to_list(),
                y=quality[metric].to_list(),
                name=metric.upper(),
            )
        )
    figure.update_layout(barmode="group")
    figure.update_yaxes(range=[0, 1])
    return Section("model", "The scorecard on the simulated book", figure, model_reading(quality))


def model_reading(quality: pl.DataFrame) -> str:
    rated = quality.drop_nulls("auc")
    if rated.is_empty():
        return (
            "The run is too short or too clean to judge the score: it needs month ends "
            "with three months after them and borrowers who went 30+ days late."
        )
    parts = ", ".join(
        f"{row['lender_group']} AUC {row['auc']:.2f} / KS {row['ks']:.2f}"
        for row in rated.iter_rows(named=True)
    )
    first = rated.row(0, named=True)
    return (
        f"Pooled over month ends, each group's score ranked who went 30+ days late in the next "
        f"three months: {parts} ({first['bads']} late of {first['observations']} observations)."
    )


def sections(book: Book, measured: Measured) -> list[Section]:
    """Every section, in the order the report shows them."""
    return [
        portfolio(book, measured.balances),
        delinquency(book, measured.month_end, measured.ever_late),
        roll_rates(book),
        vintages(book),
        scores(book),
        decisions(book, measured.outcomes),
        limit_actions(book, measured.actions),
        contagion_section(book, measured.adverse),
        bureau(book),
        model(book),
    ]


def key_figures(book: Book, measured: Measured) -> list[tuple[str, str]]:
    """The run in a few lines: the table the demo prints and the report opens with."""
    lines = book.lines.group_by("product").agg(pl.len()).sort("product")
    balance = measured.balances.filter(pl.col("business_date") == book.last_day)
    ever = measured.ever_late.row(0, named=True)
    monthly = measured.month_end
    outcomes = measured.outcomes
    applied = int(outcomes["decisions"].sum())
    approved = int(outcomes.filter(pl.col("outcome") == "approved")["decisions"].sum())
    adverse = _adverse_count(measured.actions)
    borrowers = ever["borrowers"]
    last_month = monthly.row(-1, named=True) if not monthly.is_empty() else None
    return [
        ("business days", f"{book.first_day} to {book.last_day}"),
        ("borrowers with a line", str(borrowers)),
        (
            "lines",
            ", ".join(f"{product_name(p)} {n}" for p, n in lines.rows()) or "none",
        ),
        ("receivables at the last close", yuan(int(balance["balance_fen"].sum()))),
        (
            "applications approved",
            f"{approved} of {applied} ({percent(approved / applied if applied else None)})",
        ),
        (
            "balance 30+ / 90+ DPD at the last month end",
            "n/a"
            if last_month is None
            else f"{percent(last_month['dpd30_share'])} / {percent(last_month['dpd90_share'])}",
        ),
        (
            "borrowers ever 90+ days late",
            f"{ever['ever_90']} ({percent(ever['ever_90'] / borrowers if borrowers else None)})",
        ),
        ("lines reduced, paused, frozen or closed", str(adverse)),
    ]
