"""A plan while it runs: which lines it shelters from collection, its completion, and
its break at end-of-day.

An active plan is honoured: the line ages on the plan rows (current while they are
paid on time) and collection stops (DOMAIN §5, Art. 70). A plan installment unpaid
for more than ``BREAK_TOLERANCE_DAYS`` breaks the plan: the whole unpaid plan balance
is accelerated and dated back to the original delinquency start, so the standard
ageing kernel gives the old DPD plus the time since, and the penalty the plan stopped
resumes.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.events.notifications import (
    Notice,
    line_notices,
    notify,
    write_notifications,
)
from crossline.events.outbox import Event, emit
from crossline.kernels.frames import EVENT_SCHEMA, fen_text
from crossline.kernels.installments import UNPAID_TOTAL, loan_ageing
from crossline.servicing.context import Context
from crossline.servicing.lines import Line
from crossline.servicing.plans.terms import BREAK_TOLERANCE_DAYS
from crossline.servicing.rows import read_open_rows
from crossline.store.bulk import read_frame, update_frame
from crossline.store.schema import installments, loans, plans

_ACTIVE = plans.c.status == "active"


def honoured_plan_lines(conn: sa.Connection, borrower_id: str) -> set[int]:
    """The borrower's credit lines under an honoured (active) plan: not to be collected."""
    p = plans.c
    found = conn.execute(sa.select(p.credit_line_id).where(p.borrower_id == borrower_id, _ACTIVE))
    return {int(r[0]) for r in found}


def plan_honoured_condition(
    credit_line_id_column: sa.ColumnElement[int],
) -> sa.ColumnElement[bool]:
    """True for a line under an honoured plan, for a collection query's WHERE clause."""
    p = plans.c
    return sa.exists().where(p.credit_line_id == credit_line_id_column, _ACTIVE)


def complete_plans(ctx: Context, line: Line, paid_off: list[int]) -> None:
    """Mark the line's plan completed when its plan loan was just paid off."""
    if not paid_off:
        return
    p = plans.c
    done = ctx.conn.execute(
        sa.select(p.plan_id, p.plan_loan_id, p.months).where(
            p.credit_line_id == line.credit_line_id, _ACTIVE, p.plan_loan_id.in_(paid_off)
        )
    ).all()
    for plan_id, loan_id, months in done:
        ctx.conn.execute(
            sa.update(plans)
            .where(p.plan_id == plan_id)
            .values(status="completed", ended_on=ctx.today)
        )
        payload = {"plan_id": plan_id, "months": months}
        notify(
            ctx.conn,
            [
                Notice(
                    line.borrower_id,
                    line.shard,
                    ctx.today,
                    "plan_completed",
                    payload,
                    line.product,
                    line.credit_line_id,
                )
            ],
        )
        emit(
            ctx.conn,
            [
                Event(
                    line.borrower_id,
                    line.shard,
                    ctx.today,
                    "plan_completed",
                    line.product,
                    line.credit_line_id,
                    loan_id,
                    payload,
                )
            ],
        )


_PLAN_SCHEMA = pl.Schema(
    {
        "plan_id": pl.Int64(),
        "loan_id": pl.Int64(),
        "months": pl.Int32(),
        "delinquent_since": pl.Date(),
        "penalty_rate_units": pl.Int64(),
        "penalty_base": pl.String(),
    }
)


def break_plans(
    conn: sa.Connection, rows: pl.DataFrame, ages: pl.DataFrame, day: date, lo: int, hi: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Break the active plans of shards [lo, hi) whose plan loan is more than the tolerance
    late at the end of ``day``; return the rows and ages with the broken loans re-read and
    re-aged, and the ``plan_broken`` events (a notification is written for each)."""
    p = plans.c
    active = read_frame(
        conn,
        sa.select(
            p.plan_id,
            p.plan_loan_id,
            p.months,
            p.delinquent_since,
            p.penalty_rate_units,
            p.penalty_base,
        ).where(p.shard >= lo, p.shard < hi, _ACTIVE),
        _PLAN_SCHEMA,
    )
    broken = active.join(ages.select("loan_id", "dpd"), on="loan_id").filter(
        pl.col("dpd") > BREAK_TOLERANCE_DAYS
    )
    if broken.is_empty():
        return rows, ages, pl.DataFrame(schema=EVENT_SCHEMA)
    update_frame(
        conn,
        plans,
        "plan_id",
        broken.select(
            "plan_id", pl.lit("broken").alias("status"), pl.lit(day, pl.Date).alias("ended_on")
        ),
    )
    update_frame(
        conn, loans, "loan_id", broken.select("loan_id", "penalty_rate_units", "penalty_base")
    )
    ids = broken["loan_id"].to_list()
    i = installments.c
    since = sa.select(p.delinquent_since).where(p.plan_loan_id == i.loan_id).scalar_subquery()
    conn.execute(
        sa.update(installments).where(i.loan_id.in_(ids), i.status == "open").values(due_date=since)
    )
    reread = read_open_rows(conn, i.loan_id.in_(ids))
    rows = pl.concat([rows.filter(~pl.col("loan_id").is_in(ids)), reread])
    ages = pl.concat([ages.filter(~pl.col("loan_id").is_in(ids)), loan_ageing(reread, day)])
    return rows, ages, _broken_events(conn, broken, reread, ages, day)


def _broken_events(
    conn: sa.Connection, broken: pl.DataFrame, reread: pl.DataFrame, ages: pl.DataFrame, day: date
) -> pl.DataFrame:
    facts = (
        reread.group_by("loan_id", "credit_line_id", "borrower_id", "shard", "product")
        .agg(UNPAID_TOTAL.sum().alias("overdue"))
        .join(broken.select("loan_id", "plan_id", "months", "delinquent_since"), on="loan_id")
        .join(ages.select("loan_id", "dpd"), on="loan_id")
    )
    payload = pl.struct(
        "plan_id",
        "months",
        "dpd",
        fen_text(pl.col("overdue")).alias("overdue"),
        pl.col("delinquent_since").dt.to_string("%Y-%m-%d"),
    ).struct.json_encode()
    write_notifications(conn, line_notices(facts, day, "plan_broken", payload))
    return facts.select(
        "borrower_id",
        "shard",
        pl.lit(day, pl.Date).alias("business_date"),
        pl.lit("plan_broken").alias("type"),
        "product",
        "credit_line_id",
        "loan_id",
        payload.alias("payload"),
    ).cast(EVENT_SCHEMA)
