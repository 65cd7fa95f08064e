"""Personal early warning, read from the book: one borrower for the portal and the API,
a partition for end-of-day, through the one kernel (``kernels.early_warning``).

End-of-day stores each borrower's result in their month's ``early_warnings`` row (so
last month's row is the month-end utilisation the trend compares with) and sends an
``early_warning`` notification when the level worsens (``store_warnings``; which
borrowers a close recomputes is ``eod.early_warnings``'s). The row and the notification
are written in the partition's transaction: a resumed close recomputes both from the
same book, so a worsening is notified once.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from importlib import resources
from typing import Any

import polars as pl
import sqlalchemy as sa

from crossline.calendar import last_day_of_month
from crossline.events.notifications import NOTIFICATION_SCHEMA, write_notifications
from crossline.kernels.early_warning import (
    BORROWER_SCHEMA,
    LEVELS,
    LINE_SCHEMA,
    PREVIOUS_SCHEMA,
    ROW_SCHEMA,
    SIGNALS,
    Threshold,
    early_warning,
)
from crossline.money import format_fen
from crossline.servicing.balances import owed
from crossline.store.bulk import insert_frame, read_frame, stage_ids
from crossline.store.schema import (
    OPEN,
    borrowers,
    credit_lines,
    early_warnings,
    installments,
    loans,
)

Scope = Callable[[sa.Table], sa.ColumnElement[bool]]
"""Which borrowers' rows of a table (with ``borrower_id`` and ``shard``) to read."""

LANGUAGES = ("zh", "en")


@functools.cache
def _rules() -> dict[str, Any]:
    text = resources.files("crossline.servicing").joinpath("early_warning.toml").read_text("utf-8")
    signals: dict[str, Any] = tomllib.loads(text)["signals"]
    if set(signals) != set(SIGNALS):
        raise ValueError(f"early_warning.toml: expected signals {SIGNALS}, got {sorted(signals)}")
    return signals


def thresholds() -> dict[str, Threshold]:
    """Each signal's thresholds, from ``early_warning.toml``."""
    return {s: Threshold(r.get("watch"), r.get("act")) for s, r in _rules().items()}


def advice(signal: str, language: str) -> str:
    """What the borrower is advised to do about a signal, in ``language`` (zh or en)."""
    return str(_rules()[signal][language])


def previous_month_end(day: date) -> date:
    """The month end the utilisation trend compares with: the last day of the month
    before ``day``'s."""
    first = day.replace(day=1) - timedelta(days=1)
    return first.replace(day=last_day_of_month(first.year, first.month))


def month_end(day: date) -> date:
    """The period a close on ``day`` writes its row for."""
    return day.replace(day=last_day_of_month(day.year, day.month))


def shard_scope(lo: int, hi: int) -> Scope:
    """Every borrower in shards [lo, hi): an end-of-day partition."""
    return lambda table: sa.and_(table.c.shard >= lo, table.c.shard < hi)


def everyone(table: sa.Table) -> sa.ColumnElement[bool]:
    """Every borrower: the scenario's STATE."""
    return sa.true()


def borrower_scope(borrower_ids: Sequence[str]) -> Scope:
    """The named borrowers: the portal's one, or a test's few."""
    return lambda table: table.c.borrower_id.in_(list(borrower_ids))


def _inputs(
    conn: sa.Connection, scope: Scope, day: date
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The kernel's frames for the borrowers in scope, and their shards."""
    b, i = borrowers.c, installments.c
    income = sa.func.coalesce(b.verified_income_fen, b.monthly_income_fen)
    shards = read_frame(
        conn,
        sa.select(b.borrower_id, income, b.shard).where(scope(borrowers)).order_by(b.borrower_id),
        pl.Schema({**BORROWER_SCHEMA, "shard": pl.Int16()}),
    )
    people = shards.select(BORROWER_SCHEMA.names())
    rows = read_frame(
        conn,
        sa.select(
            i.borrower_id,
            i.loan_id,
            loans.c.credit_line_id,
            i.due_date,
            owed(scheduled=True),
            i.principal_fen - i.paid_principal_fen,
        )
        .select_from(installments.join(loans, i.loan_id == loans.c.loan_id))
        .where(scope(installments), i.status == OPEN, loans.c.status == "active"),
        ROW_SCHEMA,
    )
    lines = read_frame(
        conn,
        sa.select(
            credit_lines.c.borrower_id, credit_lines.c.credit_line_id, credit_lines.c.limit_fen
        ).where(scope(credit_lines), credit_lines.c.status != "closed"),
        LINE_SCHEMA,
    )
    e = early_warnings.c
    previous = read_frame(
        conn,
        sa.select(e.borrower_id, e.utilisation_bp).where(
            scope(early_warnings),
            e.period_end == previous_month_end(day),
            e.utilisation_bp.is_not(None),
        ),
        PREVIOUS_SCHEMA,
    )
    return people, rows, lines, previous, shards


def warnings(conn: sa.Connection, scope: Scope, day: date) -> pl.DataFrame:
    """The early-warning frame (``kernels.early_warning.WARNING_SCHEMA``) of the borrowers
    in ``scope`` as of ``day``."""
    people, rows, lines, previous, _ = _inputs(conn, scope, day)
    return early_warning(people, rows, lines, previous, day, thresholds())


def _percent(bp: int | None) -> str | None:
    """Basis points as a percentage string with two decimals ("45.00%")."""
    if bp is None:
        return None
    sign = "-" if bp < 0 else ""
    return f"{sign}{abs(bp) // 100}.{abs(bp) % 100:02d}%"


def warning_view(row: dict[str, Any], day: date) -> dict[str, Any]:
    """One borrower's result as the portal, the API and STATE show it."""
    has_income = int(row["income_fen"]) > 0
    return {
        "borrower": row["borrower_id"],
        "as_of": day.isoformat(),
        "level": row["level"],
        "signals": list(row["signals"]),
        "advice": [
            {"signal": s} | {lang: advice(s, lang) for lang in LANGUAGES} for s in row["signals"]
        ],
        "measures": {
            "monthly_income": format_fen(int(row["income_fen"])),
            "monthly_debt": format_fen(int(row["monthly_debt_fen"])),
            "dti": _percent(row["dti_bp"]) if has_income else None,
            "dues_30d": format_fen(int(row["dues_30d_fen"])),
            "dues_30d_share": _percent(row["dues_30d_bp"]) if has_income else None,
            "products_with_balance": int(row["products_with_balance"]),
            "utilisation": _percent(row["utilisation_bp"]),
            "utilisation_change": _percent(row["utilisation_change_bp"]),
        },
    }


def borrower_warning(conn: sa.Connection, borrower_id: str, day: date) -> dict[str, Any] | None:
    """One borrower's early warning now (None: no such borrower)."""
    frame = warnings(conn, borrower_scope([borrower_id]), day)
    return None if frame.is_empty() else warning_view(frame.row(0, named=True), day)


_STORED_VALUES = pl.Schema(
    {
        "level": pl.String(),
        "signals": pl.String(),
        "dti_bp": pl.Int64(),
        "dues_30d_fen": pl.Int64(),
        "products_with_balance": pl.Int64(),
        "utilisation_bp": pl.Int64(),
    }
)
"""A stored row's values: a result that leaves all of them as they are is not written."""
_STORED_COLUMNS = tuple(_STORED_VALUES)
_STORED_SCHEMA = pl.Schema({"borrower_id": pl.String(), "period_end": pl.Date(), **_STORED_VALUES})


def _stored(conn: sa.Connection, scope: Scope, day: date) -> pl.DataFrame:
    """The borrowers' rows of this month and the last: this month's to compare the new
    results with, the newest of each borrower for the level a result may worsen from."""
    e = early_warnings.c
    return read_frame(
        conn,
        sa.select(e.borrower_id, e.period_end, *(e[c] for c in _STORED_COLUMNS)).where(
            scope(early_warnings), e.period_end >= previous_month_end(day)
        ),
        _STORED_SCHEMA,
    )


def _notices(worsened: pl.DataFrame, day: date) -> pl.DataFrame:
    """``early_warning`` notifications of the borrowers whose level worsened."""
    texts = {lang: {s: advice(s, lang) for s in SIGNALS} for lang in LANGUAGES}
    payload = pl.struct(
        pl.col("level"),
        pl.col("previous").alias("previous_level"),
        pl.col("signals"),
        *[
            pl.col("signals")
            .list.eval(pl.element().replace_strict(texts[lang], return_dtype=pl.String))
            .alias(f"advice_{lang}")
            for lang in LANGUAGES
        ],
    ).struct.json_encode()
    return worsened.select(
        pl.col("borrower_id"),
        pl.col("shard"),
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("early_warning").alias("kind"),
        pl.lit(None, pl.String).alias("product"),
        pl.lit(None, pl.Int64).alias("credit_line_id"),
        payload.alias("payload"),
    ).cast(NOTIFICATION_SCHEMA)


def store_warnings(conn: sa.Connection, day: date, scope: Scope) -> int:
    """Each borrower's level in ``scope`` as of the end of ``day``, stored in their month's
    row where it differs from the stored one (``as_of``: the close that found it so); an
    ``early_warning`` notification for each whose level worsened since the newest stored
    one (a first result worsens from ok). Returns the notifications sent.

    Only changed rows are written: on an ordinary night most borrowers' results are what
    their row already says, and a row rewritten to the same values costs the close a
    delete and an insert per borrower."""
    people, rows, lines, previous, shards = _inputs(conn, scope, day)
    if people.is_empty():
        return 0
    period = month_end(day)
    result = early_warning(people, rows, lines, previous, day, thresholds()).join(
        shards.select("borrower_id", "shard"), on="borrower_id"
    )
    stored = _stored(conn, scope, day)
    this_month = stored.filter(pl.col("period_end") == period).drop("period_end")
    changed = _as_stored(result).join(
        this_month, on=["borrower_id", *_STORED_COLUMNS], how="anti", nulls_equal=True
    )
    if changed.is_empty():
        return 0
    _replace(conn, changed, this_month, period, day)
    newest = stored.sort("period_end").group_by("borrower_id").agg(pl.col("level").last())
    return _notify_worsened(conn, result, changed, newest, day)


def _as_stored(result: pl.DataFrame) -> pl.DataFrame:
    """The kernel's results as a row stores them."""
    return result.select(
        "borrower_id",
        "shard",
        "level",
        pl.col("signals").list.join(",").alias("signals"),
        pl.when(pl.col("income_fen") > 0).then(pl.col("dti_bp")).alias("dti_bp"),
        "dues_30d_fen",
        "products_with_balance",
        "utilisation_bp",
    )


def _replace(
    conn: sa.Connection, changed: pl.DataFrame, this_month: pl.DataFrame, period: date, day: date
) -> None:
    """Write the changed rows of ``period`` over the stored ones."""
    replaced = changed.join(this_month, on="borrower_id", how="semi")["borrower_id"]
    if not replaced.is_empty():
        staged = stage_ids(conn, "warned_borrowers", replaced)
        e = early_warnings.c
        conn.execute(
            sa.delete(early_warnings).where(
                e.period_end == period, e.borrower_id.in_(sa.select(staged.c.id))
            )
        )
    insert_frame(
        conn,
        early_warnings,
        changed.with_columns(
            pl.lit(period, pl.Date).alias("period_end"), pl.lit(day, pl.Date).alias("as_of")
        ),
    )


def _notify_worsened(
    conn: sa.Connection,
    result: pl.DataFrame,
    changed: pl.DataFrame,
    newest: pl.DataFrame,
    day: date,
) -> int:
    """Notify the changed borrowers whose level is above the newest stored one (ok when
    there is none)."""
    rank = {level: n for n, level in enumerate(LEVELS)}
    compared = (
        result.join(changed, on="borrower_id", how="semi")
        .join(newest.rename({"level": "previous"}), on="borrower_id", how="left")
        .with_columns(pl.col("previous").fill_null("ok"))
    )
    worsened = compared.filter(
        pl.col("level").replace_strict(rank, return_dtype=pl.Int8)
        > pl.col("previous").replace_strict(rank, return_dtype=pl.Int8)
    )
    if worsened.is_empty():
        return 0
    return write_notifications(conn, _notices(worsened, day))
