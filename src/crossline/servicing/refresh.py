"""Re-age one borrower right after a command moved their money."""

from __future__ import annotations

import polars as pl

from crossline.kernels.installments import loan_ageing
from crossline.kernels.revolving import revolving_ages
from crossline.servicing.context import Context
from crossline.servicing.delinquency import apply_ageing, borrower_lines, borrower_loan_dpd
from crossline.servicing.rows import borrower_rows, late_statements_of
from crossline.store.schema import loans


def refresh_borrower(ctx: Context, borrower_id: str) -> pl.DataFrame:
    """Recompute the borrower's DPD, buckets and statuses as of now and store them;
    return the transition events, for the caller to write with its others.

    DPD is defined at the end of the business day; a payment during the day
    is final for that day, so ageing it now gives the value end-of-day will
    confirm — and lets a cure be known (and acted on) the moment it happens.
    """
    rows = borrower_rows(ctx.conn, borrower_id)
    late = late_statements_of(ctx.conn, loans.c.borrower_id, borrower_id, ctx.today)
    ages = pl.concat([loan_ageing(rows, ctx.today), revolving_ages(late, ctx.today)])
    lines = borrower_lines(ctx.conn, borrower_id)
    old = borrower_loan_dpd(ctx.conn, borrower_id)
    return apply_ageing(ctx.conn, ages, lines, old, ctx.today)
