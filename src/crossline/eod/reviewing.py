"""The close's review: only the borrowers whose lines' review inputs can have moved.

Every close reviews each open line against its group's policy (account
management, trigger ``nightly``). A line's review inputs are its borrower's
view in its group (features, score and band: the rows ``eod.rescoring``
returns), the line itself and the group's other lines (status, limits, DPD,
the month of the last action), the month of the business date, and the
group's policies in force. If none of them moved since the last close's
review, tonight's answer is that review's answer; and that answer changed
nothing, or the line would have moved (a new status or limit, ``managed_on``)
and be reviewed again. So a line whose inputs did not move would be kept, and
the close reviews only the borrowers of the partition whose inputs can have
moved since the close of ``day - 1``:

* the close itself read their rows or lines to change them, or wrote an event
  about them (``touched``: accrual, ageing, write-off, statements, reports);
* a stored view of theirs was written since that close scored (the current row
  is dated the day it was scored for: ``day`` by that close and the handlers
  of ``day``) or is recomputed by this close — a view that was not rewritten is
  the one that review read;
* a line of theirs opened, was acted on by a review (``managed_on``) or was
  cured by a payment on ``day`` or later: the line changes that are not the
  close's own. (A payment that ages a line without curing it leaves it late,
  and the close reads every late line: ``touched``.)

Every borrower is reviewed when the next business day starts a month (the
months since the last action move, and every view is recomputed) or when a
policy was activated on ``day`` or since. The full review stays the
reference: a test runs a simulated book both ways and compares every table.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from crossline.store.bulk import read_frame
from crossline.store.schema import credit_lines, current_scores, policies

_IDS = pl.Schema({"borrower_id": pl.String()})


def to_review(
    conn: sa.Connection, day: date, lo: int, hi: int, touched: pl.Series
) -> pl.Series | None:
    """The borrowers of shards [lo, hi) whose lines the close of ``day`` must review, read
    before the close scores (``None``: every borrower). The views the close recomputes
    tonight are reviewed too (``eod.rescoring.close_scores`` adds them): the others'
    reviews would keep every line."""
    if (day + timedelta(days=1)).day == 1 or _policy_activated(conn, day):
        return None
    changed = read_frame(conn, moved_since(day, lo, hi), _IDS)["borrower_id"]
    return pl.concat([touched.cast(pl.String), changed]).unique()


def _policy_activated(conn: sa.Connection, day: date) -> bool:
    found = conn.execute(
        sa.select(policies.c.policy_id).where(policies.c.activated_on >= day).limit(1)
    ).first()
    return found is not None


def moved_since(day: date, lo: int, hi: int) -> sa.Select[str]:
    """Borrowers of shards [lo, hi) with a view rewritten or a line changed since the last
    close scored (see the module's docstring)."""
    s, c = current_scores.c, credit_lines.c
    rescored = sa.select(s.borrower_id).where(s.shard >= lo, s.shard < hi, s.business_date >= day)
    changed = sa.select(c.borrower_id).where(
        c.shard >= lo,
        c.shard < hi,
        sa.or_(c.opened_on >= day, c.managed_on >= day, c.cured_on >= day),
    )
    both = sa.union(rescored, changed).subquery()
    return sa.select(both.c.borrower_id)
