"""The bureau's part of end-of-day, for one partition of borrowers.

Runs after the day's ageing so that it reads final DPDs: notices first (an
account that became reportable today is notified today), then the month-end
report on the last day of a month, then alerts on unanswered disputes.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.bureau.disputes import alert_overdue_disputes
from crossline.bureau.notices import send_notices
from crossline.bureau.reporting import is_month_end, report_month
from crossline.catalog import Catalog


def close_bureau(
    conn: sa.Connection, catalog: Catalog, day: date, lo: int, hi: int
) -> pl.DataFrame:
    """Notices, the month-end report and dispute alerts for shards [lo, hi); their events."""
    events = [send_notices(conn, catalog, day, lo, hi)]
    if is_month_end(day):
        events.append(report_month(conn, catalog, day, lo, hi))
    events.append(alert_overdue_disputes(conn, day, lo, hi))
    return pl.concat(events)
