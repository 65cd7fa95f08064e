"""The end-of-day batch.

EOD(T) closes business day T and opens T+1: penalty for T accrues, every
loan and line is aged as of the end of T, loans at the write-off threshold are
written off, and installments falling due on T+1 become receivable. Each
partition (a contiguous range of borrower shards) is one transaction that also
records its completion, so a crash at any point loses at most the partition in
flight and a rerun skips what was done: the journal comes out identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.bureau.cycle import close_bureau
from crossline.catalog import Catalog, catalog_from_json
from crossline.collections.promises import close_promises
from crossline.decisions.management import review
from crossline.eod.early_warnings import close_warnings
from crossline.eod.reminders import send_due_reminders, send_overdue_notices
from crossline.eod.rescoring import close_scores
from crossline.eod.reviewing import to_review
from crossline.eod.statements import cut_partition, products_cut_on
from crossline.events.outbox import write_events
from crossline.kernels.frames import EVENT_SCHEMA
from crossline.kernels.installments import loan_ageing, penalty_accrual, recognition
from crossline.kernels.revolving import revolving_accrual, revolving_ages
from crossline.ledger.journal import concat_pairs, post_pairs
from crossline.servicing.autodebit import debit_due_lines
from crossline.servicing.delinquency import (
    apply_ageing,
    has_live_late_lines,
    read_loan_dpd,
    read_partition_lines,
)
from crossline.servicing.errors import RefusedError
from crossline.servicing.plans import break_plans
from crossline.servicing.rows import (
    partition_rows,
    read_cycle_rows,
    read_late_statements,
    read_open_rows,
)
from crossline.servicing.writeoff import due_for_write_off, write_off
from crossline.store import platform
from crossline.store.bulk import update_frame
from crossline.store.schema import (
    eod_days,
    eod_partitions,
    installments,
    loans,
    statements,
)

Progress = Callable[[date, int, int], None]
"""Called after each partition with (business date, partitions done, partitions in all)."""


@dataclass(frozen=True, slots=True)
class PartitionResult:
    """What one partition's close wrote."""

    postings: int
    events: int


def close_partition(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int
) -> PartitionResult:
    """Run every end-of-day rule for the borrowers in shards [lo, hi): servicing, the
    borrowers' due reminders and overdue notices (``eod.reminders``), the
    bureau, the score of every borrower in every group's view as of tomorrow, and each
    group's review of the lines whose inputs can have moved (``eod.reviewing``). Auto-debits
    due today run first (``servicing.autodebit``); promises to pay are kept or broken once
    the day's repayments are in (``collections.promises``); each borrower's early warning
    comes last, for the borrowers whose results can have moved (``eod.early_warnings``)."""
    debited = debit_due_lines(conn, catalog, day, lo, hi)
    postings, events, touched = _close_servicing(conn, catalog, day, lo, hi)
    close_promises(conn, day, lo, hi)
    touched.append(debited)
    events.append(close_bureau(conn, catalog, day, lo, hi))
    emitted = pl.concat(events)
    written = write_events(conn, emitted)
    send_overdue_notices(conn, emitted, day)
    send_due_reminders(conn, day, lo, hi)
    touched.append(emitted["borrower_id"])
    tomorrow = day + timedelta(days=1)
    touched_ids = pl.concat(touched)
    reviewed = to_review(conn, day, lo, hi, touched_ids)
    scored = close_scores(conn, catalog, day, lo, hi, touched_ids, reviewed)
    if not scored.is_empty():
        review(conn, catalog, scored, tomorrow, "nightly", shards=(lo, hi))
    close_warnings(conn, day, lo, hi, touched_ids)
    return PartitionResult(postings=postings, events=written)


def _close_servicing(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int
) -> tuple[int, list[pl.DataFrame], list[pl.Series]]:
    """Accrue, age, write off and cut statements; the postings made, the events, and the
    borrowers whose rows or lines the close read to change (a superset of those it changed:
    the scores to recompute)."""
    tomorrow = day + timedelta(days=1)
    cuts = products_cut_on(catalog, tomorrow)
    rows = partition_rows(conn, lo, hi, through=tomorrow)
    if rows.is_empty() and not cuts and not has_live_late_lines(conn, lo, hi):
        return 0, [], []
    in_range = sa.and_(loans.c.shard >= lo, loans.c.shard < hi)
    cycle = read_cycle_rows(conn, in_range)
    late = read_late_statements(
        conn, sa.and_(statements.c.shard >= lo, statements.c.shard < hi), day
    )
    recognised, recognised_rows = recognition(rows, tomorrow)
    accrued, accrued_rows = penalty_accrual(rows, day)
    revolving, revolving_rows, cycle_rows = revolving_accrual(rows, cycle, late, day)
    postings = post_pairs(conn, concat_pairs([recognised, accrued, revolving]))
    for updates in (recognised_rows, accrued_rows, revolving_rows, cycle_rows):
        update_frame(conn, installments, "installment_id", updates)
    ages = pl.concat([loan_ageing(rows, day), revolving_ages(late, day)])
    rows, ages, broken_plans = break_plans(conn, rows, ages, day, lo, hi)
    targets = due_for_write_off(ages, rows, catalog)
    loan_filter = sa.and_(loans.c.shard >= lo, loans.c.shard < hi, loans.c.status == "active")
    old_loan_dpd = read_loan_dpd(conn, loan_filter)
    lines = read_partition_lines(conn, lo, hi, ages)
    written, written_events = _write_off(conn, targets, day)
    postings += post_pairs(conn, concat_pairs([written]))
    lines = lines.with_columns(
        pl.when(pl.col("credit_line_id").is_in(targets["credit_line_id"].implode()))
        .then(pl.lit(day, pl.Date))
        .otherwise(pl.col("written_off_on"))
        .alias("written_off_on")
    )
    events = [apply_ageing(conn, ages, lines, old_loan_dpd, day), written_events, broken_plans]
    events += [cut_partition(conn, product, tomorrow, lo, hi) for product in cuts]
    accrued_cycles = cycle.join(cycle_rows, on="installment_id", how="semi")
    touched = [rows["borrower_id"], accrued_cycles["borrower_id"], lines["borrower_id"]]
    return postings, events, touched


def _write_off(
    conn: sa.Connection, targets: pl.DataFrame, day: date
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Write off whole loans, reading their rows after today's accrual was stored."""
    if targets.is_empty():
        return pl.DataFrame(), pl.DataFrame(schema=EVENT_SCHEMA)
    everything = read_open_rows(conn, installments.c.loan_id.in_(targets["loan_id"].to_list()))
    return write_off(conn, everything, targets, day)


def _done(conn: sa.Connection, day: date) -> set[int]:
    return {
        int(r[0])
        for r in conn.execute(
            sa.select(eod_partitions.c.partition).where(eod_partitions.c.business_date == day)
        )
    }


EOD_LOCK = 0x656F64
"""The PostgreSQL advisory lock key of a running close ("eod")."""


@contextmanager
def _sole_close(engine: sa.Engine) -> Iterator[None]:
    """Refuse to close while another process closes. Two closes at once would each take
    the day's partitions and one would fail on the other's records; the loser is told
    ``eod_in_progress`` instead (the API answers 409). On SQLite one process serves the
    book (``crossline serve`` refuses more workers), which guards its closes itself."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        taken = conn.execute(sa.select(sa.func.pg_try_advisory_lock(EOD_LOCK))).scalar_one()
        conn.commit()
        if not taken:
            raise RefusedError("eod_in_progress", "end-of-day is already running; retry later")
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(EOD_LOCK)))
            conn.commit()


def close_day(engine: sa.Engine, progress: Progress | None = None) -> date:
    """Close the current business date; returns the date closed."""
    with _sole_close(engine):
        return _close_day(engine, progress)


def _close_day(engine: sa.Engine, progress: Progress | None) -> date:
    with engine.begin() as conn:
        state = platform.state(conn)
        day: date = state.business_date
        total = int(state.partitions)
        catalog = catalog_from_json(str(state.catalog_json))
        done = _done(conn, day)
        if not state.closing:
            platform.begin_close(conn)
    for partition in range(total):
        if partition in done:
            continue
        lo, hi = platform.shard_range(partition, total)
        with engine.begin() as conn:
            result = close_partition(conn, catalog, day, lo, hi)
            conn.execute(
                sa.insert(eod_partitions).values(
                    business_date=day,
                    partition=partition,
                    partitions=total,
                    postings=result.postings,
                )
            )
        if progress is not None:
            progress(day, partition + 1, total)
    with engine.begin() as conn:
        conn.execute(sa.insert(eod_days).values(business_date=day, partitions=total))
        platform.finish_close(conn, day + timedelta(days=1))
    return day


def run_eod(engine: sa.Engine, through: date, progress: Progress | None = None) -> list[date]:
    """Close every business date up to and including ``through``."""
    closed: list[date] = []
    while True:
        with engine.connect() as conn:
            day = platform.business_date(conn)
        if day > through:
            return closed
        closed.append(close_day(engine, progress))
