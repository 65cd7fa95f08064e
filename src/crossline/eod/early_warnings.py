"""The close's early warnings: recompute a partition only when a result can have moved.

Each close stores every borrower's early-warning result in their month's row
(``servicing.early_warning.store_warnings``). A result reads the borrower's
income, the open rows of their active loans (what each still asks for, its due
date, its principal), the limits of their lines that are not closed, last
month's stored utilisation, and the business date, which moves two windows:
the next payment (the first row due after today) and the dues of the next 30
days. So the close of ``day`` recomputes the partition, when ``day`` does not start a
month, only if for one of its borrowers one of those can have moved since the
last close (and then writes only the rows that changed):

* the close read their rows or lines to change them, or wrote an event about
  them (``touched``: accrual, recognition, ageing, write-off, statements);
* a command or a review changed them since the last close scored: their view
  was rewritten or a line of theirs opened, was acted on or was cured
  (``eod.reviewing.moved_since``; everything a command changes in the tables a
  result reads is an event, which re-scores the view);
* a row of theirs falls due on ``day`` (it stops being the next payment) or
  on ``day`` + 30 (it enters the dues window);
* they were registered on ``day`` (a first row).

On the first day of a month everyone is recomputed: the month's rows are new,
and last month's utilisation is the trend's base. Recomputing everyone every
night stays the reference: a test runs a simulated book both ways and compares
every table. (Recomputing only the stale borrowers of a partition, through a staged
list of them, was measured slower on the simulator: most nights touch a good share
of a partition, and the staged reads cost more than the partition's.)
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.eod.reviewing import moved_since
from crossline.kernels.early_warning import HORIZON_DAYS
from crossline.servicing.early_warning import shard_scope, store_warnings
from crossline.store.schema import borrowers, installments


def close_warnings(conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series) -> int:
    """Store the early warnings of shards [lo, hi) as of the end of ``day`` when a result
    can have moved (see the module's docstring); the notifications sent."""
    if day.day == 1 or not touched.is_empty() or _any_moved(conn, day, lo, hi):
        return store_warnings(conn, day, shard_scope(lo, hi))
    return 0


def _any_moved(conn: sa.Connection, day: date, lo: int, hi: int) -> bool:
    return conn.execute(_moved(day, lo, hi).limit(1)).first() is not None


def _moved(day: date, lo: int, hi: int) -> sa.Select[tuple[str]]:
    """The borrowers of shards [lo, hi) changed since the last close, with a row entering
    or leaving a window on ``day``, or registered on ``day``."""
    i, b = installments.c, borrowers.c
    edges = (day, day + timedelta(days=HORIZON_DAYS))
    reviewed = moved_since(day, lo, hi).subquery()
    both = sa.union(
        sa.select(reviewed.c.borrower_id),
        sa.select(i.borrower_id).where(i.due_date.in_(edges), i.shard >= lo, i.shard < hi),
        sa.select(b.borrower_id).where(b.shard >= lo, b.shard < hi, b.created_on >= day),
    ).subquery()
    return sa.select(both.c.borrower_id)
