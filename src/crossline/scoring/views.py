"""What every lender group sees of its borrowers, read from the database (DESIGN §9).

Group G's view as of business date D:

* **own accounts** — G's credit lines now (DPD, limit, status; balance and
  overdue from :func:`crossline.servicing.balances.line_balances`), and their
  history as it actually was: the ``actual_history`` grid of the line's latest
  month-end record, the current month from the line's ``month_max_dpd`` and DPD.
* **other groups' accounts** — each account's latest bureau record reported
  before D (``reported_on < D``) that the 5-year retention rule still shows,
  at the *reported* status and grid (``history``): an overdue below the
  threshold, or waiting for its notice, is never seen.
* **inquiries** — every inquiry on the borrower's report; own **payments** and
  **spend** (purchases and draws, from the journal) for the recent windows.

Every group's view comes from the same reads: each table is read once for
all groups, and the kernel (:func:`crossline.kernels.features.build_features`)
decides row by row which group sees what. One code path serves a list of
borrowers (real time) and a shard range (end-of-day): only the filter differs,
so the parity of the two is structural. The statements are built once per
kind of filter with bound parameters, so a real-time call only binds values.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.sql.compiler import SQLCompiler

from crossline.catalog import Catalog, catalog_from_json
from crossline.kernels.bureau import NEGATIVE_STATUSES, visible
from crossline.kernels.features import (
    BORROWER_SCHEMA,
    FEATURE_SCHEMA,
    INQUIRY_SCHEMA,
    INQUIRY_WINDOWS,
    PAYMENT_SCHEMA,
    RECENT_MONTHS,
    SPEND_SCHEMA,
    ViewFrames,
    build_features,
    lookup,
    payment_window,
    window_start,
)
from crossline.ledger.accounts import Account
from crossline.servicing.balances import line_balances
from crossline.store import platform
from crossline.store.bulk import empty_frame, frame_of_rows
from crossline.store.engine import is_sqlite
from crossline.store.schema import (
    borrowers,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    installments,
    journal,
    loans,
    plans,
    statements,
)

SPEND_EVENTS = ("disbursement", "purchase")
"""Journal events that are new spending: a draw or installment purchase, a revolving purchase
(a bill conversion moves an existing balance and is not spending)."""


_ACCOUNT_SCHEMA = pl.Schema(
    {
        "credit_line_id": pl.Int64(),
        "borrower_id": pl.String(),
        "lender_group": pl.String(),
        "product": pl.String(),
        "line_status": pl.String(),
        "opened_on": pl.Date(),
        "limit_fen": pl.Int64(),
        "dpd": pl.Int32(),
        "month_max_dpd": pl.Int32(),
        "pboc_status": pl.String(),
        "status": pl.String(),
        "record_opened_on": pl.Date(),
        "record_limit_fen": pl.Int64(),
        "record_balance_fen": pl.Int64(),
        "record_overdue_fen": pl.Int64(),
        "history": pl.String(),
        "actual_history": pl.String(),
        "period_end": pl.Date(),
    }
)
"""A line with its latest visible record (record columns null before the first report)."""

_OWED_SCHEMA = pl.Schema(
    {
        "borrower_id": pl.String(),
        "product": pl.String(),
        "due_fen": pl.Int64(),
        "paid_fen": pl.Int64(),
    }
)
_SPENT_SCHEMA = pl.Schema(
    {"borrower_id": pl.String(), "product": pl.String(), "spent_on": pl.Date()}
)


def groups(catalog: Catalog) -> list[str]:
    """Every lender group of the catalog, sorted: each scores from its own view."""
    return sorted({provider.group for provider in catalog.providers})


@dataclasses.dataclass(frozen=True, slots=True)
class Scope:
    """The borrowers a read covers: a list of ids, or a half-open shard range.

    Every table carries ``borrower_id`` and ``shard``, so one filter fits all;
    the filter is a bound parameter, so a statement is built once per kind.
    """

    borrower_ids: tuple[str, ...] | None
    shards: tuple[int, int] | None

    @property
    def by_borrower(self) -> bool:
        return self.shards is None

    def params(self) -> dict[str, Any]:
        """Values of the filter's parameters."""
        if self.shards is not None:
            return {"lo": self.shards[0], "hi": self.shards[1]}
        return {"ids": list(self.borrower_ids or ())}


def scope(borrower_ids: Sequence[str] | None, shards: tuple[int, int] | None) -> Scope:
    """The filter of a read: a list of borrowers or a shard range, not both."""
    if (borrower_ids is None) == (shards is None):
        raise ValueError("pass either borrowers or shards")
    return Scope(None if borrower_ids is None else tuple(borrower_ids), shards)


def _within(table: sa.Table | sa.Alias, by_borrower: bool) -> sa.ColumnElement[bool]:
    if by_borrower:
        return table.c.borrower_id.in_(sa.bindparam("ids", expanding=True))
    return sa.and_(table.c.shard >= sa.bindparam("lo"), table.c.shard < sa.bindparam("hi"))


@functools.lru_cache(maxsize=8)
def hidden_until(as_of: date) -> date:
    """The latest delinquency end whose negative records are no longer shown on ``as_of``.

    Found by asking :func:`crossline.kernels.bureau.visible` about the days
    around five years before, so that the database filter and the rule agree.
    """
    first = as_of.replace(year=as_of.year - 5, day=1) - timedelta(days=1)
    days = [first + timedelta(days=k) for k in range(40)]
    probe = pl.DataFrame(
        {"status": [NEGATIVE_STATUSES[0]] * len(days), "delinquency_ended_on": days},
        schema={"status": pl.String(), "delinquency_ended_on": pl.Date()},
    )
    hidden = probe.filter(~visible(as_of))["delinquency_ended_on"].max()
    assert isinstance(hidden, date)
    return hidden


# --------------------------------------------------------------------------- statements


def _shown(record: sa.FromClause) -> sa.ColumnElement[bool]:
    """Art. 16 in SQL: not negative, still open, or ended after ``hidden_until``."""
    return sa.or_(
        record.c.status.not_in(NEGATIVE_STATUSES),
        record.c.delinquency_ended_on.is_(None),
        record.c.delinquency_ended_on > sa.bindparam("hidden_until"),
    )


_RECORD_COLUMNS = (
    "status",
    "opened_on",
    "limit_fen",
    "balance_fen",
    "overdue_fen",
    "history",
    "actual_history",
    "period_end",
)


@functools.lru_cache(maxsize=4)
def _accounts_statement(by_borrower: bool, lateral: bool) -> sa.Select[Any]:
    """Every line opened by ``as_of`` with its latest visible record reported before it.

    The record is found per line through the primary key (line, month end),
    newest first, so a line with years of monthly records costs one index
    probe. PostgreSQL gets it as a LATERAL subquery: as a correlated condition
    of the join it re-ran the subquery for every record of every line (a
    partition took 10 s instead of 1). SQLite has no LATERAL, and runs the
    correlated form as one probe.
    """
    c = credit_lines.c
    as_of: sa.BindParameter[date] = sa.bindparam("as_of")
    lines = (
        c.credit_line_id,
        c.borrower_id,
        c.lender_group,
        c.product,
        c.status,
        c.opened_on,
        c.limit_fen,
        c.dpd,
        c.month_max_dpd,
        c.pboc_status,
    )
    scope = sa.and_(_within(credit_lines, by_borrower), c.opened_on <= as_of)
    newer = bureau_records.alias("newer")
    reported = sa.and_(
        newer.c.credit_line_id == c.credit_line_id,
        newer.c.period_end < as_of,
        newer.c.reported_on < as_of,
        _shown(newer),
    )
    if lateral:
        latest = (
            sa.select(*(newer.c[name] for name in _RECORD_COLUMNS))
            .where(reported)
            .order_by(newer.c.period_end.desc())
            .limit(1)
            .lateral("record")
        )
        return (
            sa.select(*lines, *(latest.c[name] for name in _RECORD_COLUMNS))
            .select_from(credit_lines.outerjoin(latest, sa.true()))
            .where(scope)
        )
    record = bureau_records.alias("record")
    newest = (
        sa.select(newer.c.period_end)
        .where(reported)
        .order_by(newer.c.period_end.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = sa.and_(record.c.credit_line_id == c.credit_line_id, record.c.period_end == newest)
    return (
        sa.select(*lines, *(record.c[name] for name in _RECORD_COLUMNS))
        .select_from(credit_lines.outerjoin(record, found))
        .where(scope)
    )


@functools.lru_cache(maxsize=2)
def _borrowers_statement(by_borrower: bool) -> sa.Select[Any]:
    b = borrowers.c
    return sa.select(b.borrower_id, b.shard, b.monthly_income_fen, b.verified_income_fen).where(
        _within(borrowers, by_borrower)
    )


@functools.lru_cache(maxsize=2)
def _inquiries_statement(by_borrower: bool) -> sa.Select[Any]:
    q = bureau_inquiries.c
    return sa.select(q.borrower_id, q.inquired_on, q.hard).where(
        _within(bureau_inquiries, by_borrower),
        q.inquired_on >= sa.bindparam("inquiries_from"),
        q.inquired_on <= sa.bindparam("as_of"),
    )


def _capped(paid: sa.ColumnElement[int], due: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """A row's payment counts up to what it asked for: paying ahead hides no missed row."""
    return sa.func.sum(sa.case((paid < due, paid), else_=due))


@functools.lru_cache(maxsize=2)
def _payments_statement(by_borrower: bool) -> sa.Select[Any]:
    """Per borrower and product, what fell due in the payment window and what was paid:
    scheduled installments of cash loans and installment loans (a personalised plan on a
    Huabei line included), and the minimum of each revolving statement (whose bill
    installments are part of that minimum, so they are not counted twice; a statement a
    plan carries keeps its unmet minimum, which is what happened)."""
    i, ln, s, c = installments.c, loans.c, statements.c, credit_lines.c
    first: sa.BindParameter[date] = sa.bindparam("payments_from")
    last: sa.BindParameter[date] = sa.bindparam("payments_to")
    due = i.principal_fen + i.interest_fen + i.fee_fen
    paid = i.paid_principal_fen + i.paid_interest_fen + i.paid_fee_fen
    scheduled = (
        sa.select(ln.borrower_id, ln.product, sa.func.sum(due), _capped(paid, due))
        .select_from(loans.join(installments, i.loan_id == ln.loan_id))
        .where(
            _within(loans, by_borrower),
            ln.kind.in_(SCHEDULED_KINDS),
            i.due_date >= first,
            i.due_date <= last,
        )
        .group_by(ln.borrower_id, ln.product)
    )
    minimums = (
        sa.select(
            s.borrower_id, c.product, sa.func.sum(s.minimum_fen), _capped(s.paid_fen, s.minimum_fen)
        )
        .select_from(statements.join(credit_lines, c.credit_line_id == s.credit_line_id))
        .where(
            # A borrower's statements are found through their lines, a partition's
            # through the statements' own (shard, due date) index.
            _within(credit_lines if by_borrower else statements, by_borrower),
            s.due_date >= first,
            s.due_date <= last,
        )
        .group_by(s.borrower_id, c.product)
    )
    both = sa.union_all(scheduled, minimums).subquery()
    return sa.select(both)


SCHEDULED_KINDS = ("cash_loan", "installment")
"""Loans repaid by their own schedule (not through a revolving statement)."""

OPENED_WITH_SPENDING = SCHEDULED_KINDS
"""Loans whose only spending is their own opening: a draw or an installment purchase is
booked (``disbursement``) on the day the loan opens, so their opening date stands for
the journal entry and their repayments and accruals need not be read. A personalised
plan's loan is of these kinds but refinances old debt: it is no spending."""


@functools.lru_cache(maxsize=2)
def _spend_statement(by_borrower: bool) -> sa.Select[Any]:
    """Per borrower, product and calendar month with a purchase or draw, its first day of
    spending. Cash loans and installment plans spend when they open; revolving lines
    (whose purchases add to an open cycle and open no loan) and bill installments are
    read from the journal, reached through its loan index."""
    j, ln = journal.c, loans.c
    first: sa.BindParameter[date] = sa.bindparam("spend_from")
    last: sa.BindParameter[date] = sa.bindparam("as_of")

    def monthly(day: sa.ColumnElement[date]) -> tuple[sa.ColumnElement[Any], ...]:
        return (sa.extract("year", day), sa.extract("month", day))

    opened = (
        sa.select(ln.borrower_id, ln.product, sa.func.min(ln.opened_on))
        .where(
            _within(loans, by_borrower),
            ln.kind.in_(OPENED_WITH_SPENDING),
            ln.opened_on >= first,
            ln.opened_on <= last,
            ~sa.exists().where(plans.c.plan_loan_id == ln.loan_id),
        )
        .group_by(ln.borrower_id, ln.product, *monthly(ln.opened_on))
    )
    booked = (
        sa.select(j.borrower_id, ln.product, sa.func.min(j.business_date))
        .select_from(loans.join(journal, j.loan_id == ln.loan_id))
        .where(
            _within(loans, by_borrower),
            ln.kind.not_in(OPENED_WITH_SPENDING),
            j.event.in_(SPEND_EVENTS),
            j.account == Account.LOAN_PRINCIPAL.value,
            j.business_date >= first,
            j.business_date <= last,
        )
        .group_by(j.borrower_id, ln.product, *monthly(j.business_date))
    )
    return sa.select(sa.union_all(opened, booked).subquery())


def _read(
    conn: sa.Connection, statement: sa.Select[Any], params: Mapping[str, Any], schema: pl.Schema
) -> pl.DataFrame:
    """Run a SELECT and return its rows as a frame with the given column types.

    Rows come straight from the driver's cursor, without SQLAlchemy's per-value
    result processing: SQLite returns dates as ISO text, which Polars parses a
    column at a time instead of Python a value at a time (a third of a batch
    read's time went there). A shard range on PostgreSQL is read with COPY as
    CSV, which Polars parses without a Python object per value.
    """
    if not is_sqlite(conn.engine):
        if "lo" in params:
            return _copied(conn, statement, params, schema)
        rows = conn.execute(statement, dict(params)).cursor.fetchall()
        return frame_of_rows(rows, schema)
    rows = conn.execute(statement, dict(params)).cursor.fetchall()
    dates = [name for name, dtype in schema.items() if dtype == pl.Date()]
    as_text = {name: pl.String() if name in dates else dtype for name, dtype in schema.items()}
    frame = frame_of_rows(rows, as_text)
    return frame.with_columns(pl.col(name).str.to_date("%Y-%m-%d") for name in dates)


@functools.lru_cache(maxsize=32)
def _compiled(statement: sa.Select[Any], dialect: sa.Dialect) -> SQLCompiler:
    """A statement compiled once per dialect; each read only expands its parameters."""
    return statement.compile(dialect=dialect)


def _copied(
    conn: sa.Connection, statement: sa.Select[Any], params: Mapping[str, Any], schema: pl.Schema
) -> pl.DataFrame:
    expanded = _compiled(statement, conn.dialect).construct_expanded_state(dict(params))
    sql = f"COPY ({expanded.statement}) TO STDOUT WITH (FORMAT csv)"
    flags = [name for name, dtype in schema.items() if dtype == pl.Boolean()]
    as_text = {name: pl.String() if name in flags else dtype for name, dtype in schema.items()}
    buffer = io.BytesIO()
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(sql, expanded.parameters) as copy:
        for chunk in copy:
            buffer.write(chunk)
    cursor.close()
    if not buffer.getbuffer().nbytes:
        return empty_frame(schema)
    buffer.seek(0)
    frame = pl.read_csv(buffer, has_header=False, schema=as_text)
    return frame.with_columns((pl.col(name) == "t").alias(name) for name in flags)


# --------------------------------------------------------------------------- frames


def _lines(accounts: pl.DataFrame, owed: pl.DataFrame, grace: Mapping[str, int]) -> pl.LazyFrame:
    return (
        accounts.lazy()
        .join(owed.lazy(), on="credit_line_id", how="left")
        .select(
            "borrower_id",
            "lender_group",
            (pl.col("line_status") != "closed").alias("open"),
            "opened_on",
            "limit_fen",
            pl.col("balance_fen").fill_null(0),
            pl.col("overdue_fen").fill_null(0),
            "dpd",
            "month_max_dpd",
            lookup(pl.col("product"), grace, pl.Int32()).alias("grace_days"),
            "pboc_status",
            "actual_history",
            pl.col("period_end").alias("history_end"),
        )
    )


def _records(accounts: pl.DataFrame) -> pl.LazyFrame:
    return (
        accounts.lazy()
        .filter(pl.col("status").is_not_null())
        .select(
            "borrower_id",
            "lender_group",
            "status",
            pl.col("record_opened_on").alias("opened_on"),
            pl.col("record_limit_fen").alias("limit_fen"),
            pl.col("record_balance_fen").alias("balance_fen"),
            pl.col("record_overdue_fen").alias("overdue_fen"),
            "history",
            "period_end",
        )
    )


def _by_group(frame: pl.DataFrame, owners: Mapping[str, str], schema: pl.Schema) -> pl.LazyFrame:
    """A per-product frame with the product replaced by the group that offers it."""
    owner = lookup(pl.col("product"), owners, pl.String())
    return frame.lazy().with_columns(owner.alias("lender_group")).select(list(schema))


@dataclasses.dataclass(frozen=True, slots=True)
class _Setting:
    """What the catalog says that the reads need, worked out once per catalog."""

    groups: tuple[str, ...]
    grace: dict[str, int]
    owners: dict[str, str]


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> _Setting:
    catalog = catalog_from_json(text)
    return _Setting(
        groups=tuple(groups(catalog)),
        grace={p.id: p.grace_days for p in catalog.products},
        owners={p.id: catalog.provider_of(p.id).group for p in catalog.products},
    )


def _setting(conn: sa.Connection) -> _Setting:
    """The catalog in force, parsed once per distinct text (validation costs milliseconds)."""
    return _parsed(platform.catalog_json(conn))


def read_view(conn: sa.Connection, as_of: date, within: Scope) -> ViewFrames:
    """The inputs of every group's view of the borrowers ``within`` covers, as of ``as_of``."""
    setting = _setting(conn)
    by_borrower = within.by_borrower
    payments_from, payments_to = payment_window(as_of)
    params = within.params() | {
        "as_of": as_of,
        "hidden_until": hidden_until(as_of),
        "inquiries_from": window_start(as_of, max(INQUIRY_WINDOWS)),
        "payments_from": payments_from,
        "payments_to": payments_to,
        "spend_from": window_start(as_of, RECENT_MONTHS),
    }
    statement = _accounts_statement(by_borrower, lateral=not is_sqlite(conn.engine))
    accounts = _read(conn, statement, params, _ACCOUNT_SCHEMA)
    c = credit_lines.c
    if by_borrower:
        # Naming the loans' borrower lets the loan index find the open installments.
        lines_owing = sa.and_(
            c.borrower_id.in_(params["ids"]), loans.c.borrower_id.in_(params["ids"])
        )
    else:
        lines_owing = sa.and_(c.shard >= params["lo"], c.shard < params["hi"])
    owed = line_balances(conn, lines_owing, as_of)
    payments = _read(conn, _payments_statement(by_borrower), params, _OWED_SCHEMA)
    spend = _read(conn, _spend_statement(by_borrower), params, _SPENT_SCHEMA)
    return ViewFrames(
        lines=_lines(accounts, owed, setting.grace),
        records=_records(accounts),
        inquiries=_read(conn, _inquiries_statement(by_borrower), params, INQUIRY_SCHEMA),
        payments=_by_group(payments, setting.owners, PAYMENT_SCHEMA),
        spend=_by_group(spend, setting.owners, SPEND_SCHEMA),
        borrowers=_read(conn, _borrowers_statement(by_borrower), params, BORROWER_SCHEMA),
    )


def all_group_features(
    conn: sa.Connection,
    as_of: date,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
    groups: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Features (``crossline.kernels.features.GROUP_FEATURE_SCHEMA``) of ``borrowers``, or
    of shards [lo, hi), in the view of each group of ``groups`` (default: every group of
    the catalog): one row per borrower and group, the groups in the order given."""
    within = scope(borrowers, shards)
    viewers = groups if groups is not None else _setting(conn).groups
    return build_features(read_view(conn, as_of, within), as_of, viewers)


def group_features(
    conn: sa.Connection,
    group: str,
    as_of: date,
    borrowers: Sequence[str] | None = None,
    shards: tuple[int, int] | None = None,
) -> pl.DataFrame:
    """Features (``crossline.kernels.features.FEATURE_SCHEMA``) from ``group``'s view,
    of ``borrowers`` or of shards [lo, hi): the one-group case of :func:`all_group_features`."""
    features = all_group_features(conn, as_of, borrowers, shards, groups=[group])
    return features.select(list(FEATURE_SCHEMA))
