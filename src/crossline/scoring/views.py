"""What a lender group sees of its borrowers, read from the database (DESIGN §9).

Group G's view as of business date D:

* **own accounts** — G's credit lines now (DPD, limit, status; balance and
  overdue from :func:`crossline.servicing.balances.line_balances`), and their
  history from G's own month-end records at the *actual* severity: the band of
  the month's worst DPD beyond the product's grace (so a 10-day overdue cured
  before month end still counts) or B; the current month comes from the line's
  ``month_max_dpd`` and DPD.
* **other groups' accounts** — only their bureau records reported before D
  (``reported_on < D``) and still shown under the 5-year retention rule, at the
  *reported* status: an overdue below the threshold, or waiting for its notice,
  is never seen. Their current state is each account's latest such record.
* **inquiries** — every inquiry on the borrower's report; own **payments** and
  **spend** (purchases and draws, from the journal) for the recent windows.

One code path serves a list of borrowers (real time) and a shard range
(end-of-day): only the filter differs, so the parity of the two is structural.
Each source is one set-based query; retention and severity are applied by
Polars expressions over the whole result.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import date

import polars as pl
import sqlalchemy as sa

from crossline.catalog import Catalog, catalog_from_json
from crossline.kernels.bureau import status_level, visible
from crossline.kernels.features import (
    ACCOUNT_SCHEMA,
    BORROWER_SCHEMA,
    INQUIRY_SCHEMA,
    INQUIRY_WINDOWS,
    MONTH_SCHEMA,
    PAYMENT_SCHEMA,
    RECENT_MONTHS,
    SPEND_SCHEMA,
    ViewFrames,
    build_features,
    dpd_level,
    window_start,
)
from crossline.ledger.accounts import Account
from crossline.servicing.balances import line_balances
from crossline.store import platform
from crossline.store.bulk import read_frame
from crossline.store.schema import (
    borrowers,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    installments,
    journal,
    loans,
    statements,
)

SPEND_EVENTS = ("disbursement", "purchase")
"""Journal events that are new spending: a draw or installment purchase, a revolving purchase
(a bill conversion moves an existing balance and is not spending)."""

CLOSED_CODES = ("C", "G")
"""Reported statuses of an account that has ended (settled, or ended otherwise)."""

_LINE_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "product": pl.String(),
        "status": pl.String(),
        "opened_on": pl.Date(),
        "limit_fen": pl.Int64(),
        "dpd": pl.Int32(),
        "month_max_dpd": pl.Int32(),
        "pboc_status": pl.String(),
    }
)

_RECORD_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "opened_on": pl.Date(),
        "period_end": pl.Date(),
        "status": pl.String(),
        "actual_status": pl.String(),
        "max_dpd": pl.Int32(),
        "balance_fen": pl.Int64(),
        "limit_fen": pl.Int64(),
        "overdue_fen": pl.Int64(),
        "delinquency_ended_on": pl.Date(),
    }
)


def groups(catalog: Catalog) -> list[str]:
    """Every lender group of the catalog, sorted: each scores from its own view."""
    return sorted({provider.group for provider in catalog.providers})


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """The borrowers a read covers: a list of ids, or a half-open shard range.

    Every table carries ``borrower_id`` and ``shard``, so one filter fits all.
    """

    borrower_ids: tuple[str, ...] | None
    shards: tuple[int, int] | None

    def __call__(self, table: sa.Table) -> sa.ColumnElement[bool]:
        """The table's rows of these borrowers."""
        if self.shards is not None:
            lo, hi = self.shards
            return sa.and_(table.c.shard >= lo, table.c.shard < hi)
        return table.c.borrower_id.in_(self.borrower_ids or ())

    def by_shard(self, table: sa.Table) -> sa.ColumnElement[bool]:
        """The same rows, also named by shard, for tables indexed by shard but not by
        borrower (open installments, statements): the index then finds them."""
        if self.shards is not None:
            return self(table)
        buckets = sorted({platform.shard_of(b) for b in self.borrower_ids or ()})
        return sa.and_(self(table), table.c.shard.in_(buckets))


def scope(borrower_ids: Sequence[str] | None, shards: tuple[int, int] | None) -> Scope:
    """The filter of a read: a list of borrowers or a shard range, not both."""
    if (borrower_ids is None) == (shards is None):
        raise ValueError("pass either borrowers or shards")
    return Scope(None if borrower_ids is None else tuple(borrower_ids), shards)


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> Catalog:
    return catalog_from_json(text)


def _catalog(conn: sa.Connection) -> Catalog:
    """The catalog in force; parsed once per distinct text (validation costs milliseconds)."""
    return _parsed(platform.catalog_json(conn))


def _grace(catalog: Catalog) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "product": [p.id for p in catalog.products],
            "grace_days": [p.grace_days for p in catalog.products],
        },
        schema={"product": pl.String(), "grace_days": pl.Int32()},
    )


def _borrowers(conn: sa.Connection, within: Scope) -> pl.DataFrame:
    b = borrowers.c
    statement = sa.select(
        b.borrower_id, b.shard, b.monthly_income_fen, b.verified_income_fen
    ).where(within(borrowers))
    return read_frame(conn, statement, BORROWER_SCHEMA)


def _own_lines(conn: sa.Connection, within: Scope, group: str, as_of: date) -> pl.LazyFrame:
    c = credit_lines.c
    statement = sa.select(*(c[name] for name in _LINE_SCHEMA)).where(
        within(credit_lines), c.lender_group == group, c.opened_on <= as_of
    )
    lines = read_frame(conn, statement, _LINE_SCHEMA)
    # Scoping the installments as well lets the open-installment index drive the aggregate.
    lines_owing = sa.and_(
        within(credit_lines), within.by_shard(installments), c.lender_group == group
    )
    owed = line_balances(conn, lines_owing, as_of)
    return (
        lines.lazy()
        .join(owed.lazy(), on="credit_line_id", how="left")
        .with_columns(pl.col("balance_fen").fill_null(0), pl.col("overdue_fen").fill_null(0))
    )


def _records(conn: sa.Connection, within: Scope, group: str, as_of: date) -> pl.LazyFrame:
    """Own records of past month ends, other groups' records reported before ``as_of``;
    of both only those the retention rule still shows."""
    r = bureau_records.c
    statement = sa.select(*(r[name] for name in _RECORD_SCHEMA)).where(
        within(bureau_records),
        sa.or_(
            sa.and_(r.lender_group == group, r.period_end < as_of),
            sa.and_(r.lender_group != group, r.reported_on < as_of),
        ),
    )
    return read_frame(conn, statement, _RECORD_SCHEMA).lazy().filter(visible(as_of))


def _inquiries(conn: sa.Connection, within: Scope, as_of: date) -> pl.DataFrame:
    q = bureau_inquiries.c
    statement = sa.select(q.borrower_id, q.inquired_on, q.hard).where(
        within(bureau_inquiries),
        q.inquired_on >= window_start(as_of, max(INQUIRY_WINDOWS)),
        q.inquired_on <= as_of,
    )
    return read_frame(conn, statement, INQUIRY_SCHEMA)


def _payments(
    conn: sa.Connection, within: Scope, group: str, catalog: Catalog, as_of: date
) -> pl.DataFrame:
    """What own lines asked for in the recent window: scheduled installments of loans on
    non-revolving lines, and the minimum of each revolving statement (whose bill
    installments are part of that minimum, so they are not counted twice)."""
    start = window_start(as_of, RECENT_MONTHS)
    products = catalog.products_in_group(group)
    i, ln, s, c = installments.c, loans.c, statements.c, credit_lines.c
    scheduled = (
        sa.select(
            ln.borrower_id,
            i.due_date,
            (i.principal_fen + i.interest_fen + i.fee_fen).label("due_fen"),
            (i.paid_principal_fen + i.paid_interest_fen + i.paid_fee_fen).label("paid_fen"),
        )
        .select_from(loans.join(installments, i.loan_id == ln.loan_id))
        .where(
            within(loans),
            ln.product.in_([p.id for p in products if p.kind != "revolving"]),
            i.due_date >= start,
            i.due_date < as_of,
        )
    )
    minimums = (
        sa.select(s.borrower_id, s.due_date, s.minimum_fen, s.paid_fen)
        .select_from(statements.join(credit_lines, c.credit_line_id == s.credit_line_id))
        .where(
            within.by_shard(statements),
            c.lender_group == group,
            s.due_date >= start,
            s.due_date < as_of,
        )
    )
    both = sa.union_all(scheduled, minimums).subquery()
    return read_frame(conn, sa.select(both), PAYMENT_SCHEMA)


def _spend(
    conn: sa.Connection, within: Scope, group: str, catalog: Catalog, as_of: date
) -> pl.DataFrame:
    """Days with a purchase or draw on an own line, from the journal (revolving purchases
    add to an open cycle and open no loan, so loans alone would miss them)."""
    j, ln = journal.c, loans.c
    own_loans = sa.select(ln.loan_id).where(
        within(loans), ln.product.in_([p.id for p in catalog.products_in_group(group)])
    )
    statement = (
        sa.select(j.borrower_id, j.business_date)
        .distinct()
        .where(
            j.loan_id.in_(own_loans),  # the journal is reached through its loan index
            j.event.in_(SPEND_EVENTS),
            j.account == Account.LOAN_PRINCIPAL.value,
            j.business_date >= window_start(as_of, RECENT_MONTHS),
            j.business_date <= as_of,
        )
    )
    return read_frame(conn, statement, SPEND_SCHEMA)


def _own_accounts(lines: pl.LazyFrame) -> pl.LazyFrame:
    return lines.select(
        "borrower_id",
        "product",
        pl.lit(True).alias("own"),
        (pl.col("status") != "closed").alias("open"),
        "opened_on",
        "limit_fen",
        "balance_fen",
        "overdue_fen",
        status_level(pl.col("pboc_status")).alias("level"),
        "dpd",
    )


def _other_accounts(records: pl.LazyFrame, group: str) -> pl.LazyFrame:
    """Each other-group account as its latest visible record shows it."""
    latest = pl.col("period_end") == pl.col("period_end").max().over("credit_line_id")
    return records.filter((pl.col("lender_group") != group) & latest).select(
        "borrower_id",
        "product",
        pl.lit(False).alias("own"),
        ~pl.col("status").is_in(CLOSED_CODES).alias("open"),
        "opened_on",
        "limit_fen",
        "balance_fen",
        "overdue_fen",
        status_level(pl.col("status")).alias("level"),
        pl.lit(None, pl.Int32).alias("dpd"),
    )


def _months(
    lines: pl.LazyFrame, records: pl.LazyFrame, group: str, grace: pl.DataFrame, as_of: date
) -> pl.LazyFrame:
    """Month levels: own history at the actual severity, this month from the lines,
    other groups' months at the reported status."""
    own = pl.col("lender_group") == group
    actual = pl.max_horizontal(
        dpd_level(pl.col("max_dpd"), pl.col("grace_days")), status_level(pl.col("actual_status"))
    )
    history = (
        records.join(grace.lazy(), on="product", how="left")
        .with_columns(pl.col("grace_days").fill_null(0))
        .select(
            "borrower_id",
            "product",
            pl.col("period_end").alias("month"),
            pl.when(own).then(actual).otherwise(status_level(pl.col("status"))).alias("level"),
        )
    )
    worst_dpd = pl.max_horizontal("month_max_dpd", "dpd")
    this_month = lines.join(grace.lazy(), on="product", how="left").select(
        "borrower_id",
        "product",
        pl.lit(as_of, pl.Date).alias("month"),
        pl.max_horizontal(
            dpd_level(worst_dpd, pl.col("grace_days").fill_null(0)),
            status_level(pl.col("pboc_status")),
        ).alias("level"),
    )
    return pl.concat([history, this_month])


def _view(conn: sa.Connection, group: str, as_of: date, within: Scope) -> ViewFrames:
    """The view with its accounts and months still lazy (plans over the rows read)."""
    catalog = _catalog(conn)
    lines = _own_lines(conn, within, group, as_of)
    records = _records(conn, within, group, as_of)
    return ViewFrames(
        accounts=pl.concat([_own_accounts(lines), _other_accounts(records, group)]).cast(
            ACCOUNT_SCHEMA
        ),
        months=_months(lines, records, group, _grace(catalog), as_of).cast(MONTH_SCHEMA),
        inquiries=_inquiries(conn, within, as_of),
        payments=_payments(conn, within, group, catalog, as_of),
        spend=_spend(conn, within, group, catalog, as_of),
        borrowers=_borrowers(conn, within),
    )


def read_view(
    conn: sa.Connection,
    group: str,
    as_of: date,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
) -> ViewFrames:
    """Group ``group``'s view as of ``as_of`` of ``borrowers``, or of shards [lo, hi);
    every frame a DataFrame."""
    view = _view(conn, group, as_of, scope(borrowers, shards))
    accounts, months = pl.collect_all(
        [view.accounts.lazy(), view.months.lazy()], engine="in-memory"
    )
    return dataclasses.replace(view, accounts=accounts, months=months)


def group_features(
    conn: sa.Connection,
    group: str,
    as_of: date,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
) -> pl.DataFrame:
    """Features (``crossline.kernels.features.FEATURE_SCHEMA``) from ``group``'s view,
    of ``borrowers`` or of shards [lo, hi): the view's plans and the kernel's run as one."""
    return build_features(_view(conn, group, as_of, scope(borrowers, shards)), as_of)
