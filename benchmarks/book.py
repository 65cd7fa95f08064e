"""The synthetic book the scoring and decision benchmarks measure, and how it is loaded.

The book is **test data**, generated column-wise with Polars and bulk-loaded
with ``crossline.store.bulk.insert_frame`` straight into the tables, without
the services: borrowers; credit lines across the four products and three
groups (about 2 a borrower, 5% late); bureau records for the last three month
ends with 24-month grids (a tenth of the accounts with delinquent months, a
few with an overdue the threshold kept off the report); inquiries; a loan per
non-revolving line with its installments, a revolving loan with an open cycle
and six statements per Huabei line; and journal entries for draws, purchases
and repayments. Amounts and schedules are plausible, not exact product
arithmetic: what the benchmarks measure is reading, scoring and deciding, not
servicing.

Shared by ``benchmarks/score.py`` and ``benchmarks/decide.py`` (imported as
``book``: a script's own folder is first on ``sys.path``, in spawned workers too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crossline.catalog import Catalog, catalog_to_json
from crossline.kernels.delinquency import classify
from crossline.ledger.accounts import Account
from crossline.store import platform
from crossline.store.bulk import insert_frame
from crossline.store.engine import is_sqlite, make_engine, upgrade
from crossline.store.schema import (
    borrowers,
    bureau_inquiries,
    bureau_records,
    credit_lines,
    id_counters,
    installments,
    journal,
    loans,
    statements,
)

BUSINESS_DATE = date(2025, 6, 11)
"""The book's business date; the last month end reported is 31 May."""
MONTH_ENDS = (date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31))
PRODUCT_SHARE = {"huabei": 0.7, "jiebei": 0.5, "weilidai": 0.45, "fenqile": 0.4}
"""Chance that a borrower has a line of each product (at least one line each)."""
CHUNK = 1_000_000
_U53 = float(1 << 53)


def uniform(key: pl.Expr, seed: int, stream: int) -> pl.Expr:
    """A seeded uniform float in [0, 1) per row, from a hash of the row key (vectorised)."""
    return (key.hash(seed=seed * 1_000 + stream) // (1 << 11)).cast(pl.Float64) / _U53


def below(key: pl.Expr, seed: int, stream: int, bound: pl.Expr | int) -> pl.Expr:
    """A seeded uniform integer in [0, bound)."""
    upper = bound.cast(pl.UInt64) if isinstance(bound, pl.Expr) else pl.lit(bound, pl.UInt64)
    return (key.hash(seed=seed * 1_000 + stream) % upper).cast(pl.Int64)


def _days_before(day: date, days: pl.Expr) -> pl.Expr:
    return pl.lit(day) - pl.duration(days=days)


def _borrowers(n: int, seed: int) -> pl.DataFrame:
    ids = [f"b{i:09d}" for i in range(n)]
    k = pl.col("k")
    return pl.DataFrame(
        {
            "k": pl.int_range(n, eager=True, dtype=pl.Int64),
            "borrower_id": ids,
            # The platform's own shard function: one call per borrower is the only
            # per-row Python work of the build.
            "shard": [platform.shard_of(b) for b in ids],
        },
        schema_overrides={"shard": pl.Int16},
    ).with_columns(
        ((3_000 + below(k, seed, 1, 47_000)) * 100).alias("monthly_income_fen"),
        pl.when(uniform(k, seed, 2) < 0.3)
        .then((3_000 + below(k, seed, 3, 30_000)) * 100)
        .alias("verified_income_fen"),
        _days_before(BUSINESS_DATE, 60 + below(k, seed, 4, 1_500)).alias("created_on"),
    )


def _lines(people: pl.DataFrame, seed: int, catalog: Catalog) -> pl.DataFrame:
    products = pl.DataFrame(
        {
            "product": list(PRODUCT_SHARE),
            "share": list(PRODUCT_SHARE.values()),
            "kind": [catalog.product(p).kind for p in PRODUCT_SHARE],
            "lender_group": [catalog.provider_of(p).group for p in PRODUCT_SHARE],
            "grace_days": [catalog.product(p).grace_days for p in PRODUCT_SHARE],
            "p": list(range(len(PRODUCT_SHARE))),
        }
    )
    key = pl.col("k") * 8 + pl.col("p")
    chosen = (
        people.select("k", "borrower_id", "shard", "created_on")
        .join(products, how="cross")
        .with_columns((uniform(key, seed, 10) < pl.col("share")).alias("has"))
        .with_columns(pl.col("has").any().over("k").alias("any"))
        .filter(pl.col("has") | (~pl.col("any") & (pl.col("product") == "huabei")))
        .sort("k", "p")
    )
    late = uniform(key, seed, 11) < 0.05
    dpd = pl.when(late).then(1 + below(key, seed, 12, 200)).otherwise(0).cast(pl.Int32)
    lines = chosen.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("credit_line_id"),
        pl.col("product").alias("provider"),
        ((10 + below(key, seed, 13, 190)) * 10_000).alias("limit_fen"),
        pl.lit("active").alias("status"),
        pl.max_horizontal(
            pl.col("created_on"), _days_before(BUSINESS_DATE, 30 + below(key, seed, 14, 1_200))
        ).alias("opened_on"),
        dpd.alias("dpd"),
    ).with_columns(
        pl.when(pl.col("dpd") > pl.col("grace_days"))
        .then(pl.col("dpd"))
        .otherwise(0)
        .alias("counted_dpd"),
    )
    return classify(lines).with_columns(
        # The worst of the month so far: late since before the 1st counts from the 1st.
        pl.col("counted_dpd").alias("month_max_dpd"),
        pl.when(pl.col("counted_dpd") > 180).then(pl.lit(BUSINESS_DATE)).alias("written_off_on"),
    )


def _grid(body: pl.Expr, months: pl.Expr) -> pl.Expr:
    """The last ``months`` characters of a 24-month body, padded with ``-`` before opening."""
    return body.str.slice(24 - months.clip(0, 24)).str.pad_start(24, "-")


def _records(lines: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Three month ends of records; a tenth of the accounts carry delinquent months."""
    key = pl.col("credit_line_id")
    start = below(key, seed, 20, 27)
    length = 1 + below(key, seed, 21, 4)
    band = pl.when(uniform(key, seed, 22) < 0.9).then(1 + below(key, seed, 23, 3)).otherwise(4)
    dirty = uniform(key, seed, 24) < 0.1
    hidden = uniform(key, seed, 25) < 0.03
    # 27 months of history ending with May, as reported and as it was: a run of late
    # months in the dirty accounts, a single month of band 1 kept off the report in a few.
    clean = pl.lit("N" * 27)
    run = pl.concat_str(
        clean.str.slice(0, start),
        band.cast(pl.String).repeat_by(length).list.join(""),
        clean,
    ).str.slice(0, 27)
    reported = pl.when(dirty).then(run).otherwise(clean)
    actual = pl.when(hidden & ~dirty).then(
        pl.concat_str(clean.str.slice(0, start), pl.lit("1"), clean).str.slice(0, 27)
    )
    late_now = pl.col("counted_dpd") > 0
    frames = []
    for back, period_end in enumerate(reversed(MONTH_ENDS)):
        opened_months = (
            (period_end.year - pl.col("opened_on").dt.year()) * 12
            + period_end.month
            - pl.col("opened_on").dt.month()
            + 1
        )
        late_then = late_now & (pl.col("counted_dpd") > 11 + 30 * back)
        late_band = ((pl.col("counted_dpd") - 11 - 30 * back - 1) // 30 + 1).clip(1, 7)
        last = pl.when(late_then).then(late_band.cast(pl.String))
        history = _grid(
            pl.concat_str(
                pl.col("reported").str.slice(3 - back, 23),
                last.fill_null(pl.col("reported").str.slice(26 - back, 1)),
            ),
            opened_months,
        )
        actual_history = _grid(
            pl.concat_str(
                pl.col("actual").str.slice(3 - back, 23),
                last.fill_null(pl.col("actual").str.slice(26 - back, 1)),
            ),
            opened_months,
        )
        frames.append(
            lines.filter(pl.col("opened_on") <= period_end)
            .with_columns(reported.alias("reported"), actual.fill_null(reported).alias("actual"))
            .with_columns(history.alias("history"), actual_history.alias("actual_history"))
            .select(
                "credit_line_id",
                pl.lit(period_end).alias("period_end"),
                "borrower_id",
                "shard",
                "provider",
                "lender_group",
                "product",
                "opened_on",
                pl.col("history").str.slice(23, 1).alias("status"),
                pl.col("actual_history").str.slice(23, 1).alias("actual_status"),
                pl.when(late_then)
                .then(pl.col("counted_dpd") - 11 - 30 * back)
                .otherwise(0)
                .alias("dpd"),
                pl.when(late_then)
                .then(pl.col("counted_dpd") - 11 - 30 * back)
                .otherwise(0)
                .alias("max_dpd"),
                (pl.col("limit_fen") * below(key, seed, 26 + back, 80) // 100).alias("balance_fen"),
                "limit_fen",
                pl.lit(period_end).alias("reported_on"),
                pl.lit(None, pl.Date).alias("delinquency_ended_on"),
                "history",
                "actual_history",
            )
            .with_columns(
                pl.when(pl.col("status").is_in(["N", "C"]))
                .then(0)
                .otherwise(pl.col("balance_fen") // 4)
                .alias("overdue_fen")
            )
        )
    return pl.concat(frames)


def _inquiries(people: pl.DataFrame, seed: int) -> pl.DataFrame:
    key = pl.col("k") * 8 + pl.col("n")
    return (
        people.select("k", "borrower_id", "shard")
        .with_columns(pl.int_ranges(0, below(pl.col("k"), seed, 30, 4)).alias("n"))
        .explode("n")
        .drop_nulls("n")
        .with_columns(
            _days_before(BUSINESS_DATE, below(key, seed, 31, 240)).alias("inquired_on"),
            pl.lit("webank").alias("inquirer"),
            pl.when(uniform(key, seed, 32) < 0.8)
            .then(pl.lit("loan_approval"))
            .otherwise(pl.lit("post_loan_management"))
            .alias("reason"),
        )
        .with_columns(
            (pl.col("reason") == "loan_approval").alias("hard"), pl.lit(False).alias("charged")
        )
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("inquiry_id"))
    )


def _loans(lines: pl.DataFrame, seed: int) -> pl.DataFrame:
    key = pl.col("credit_line_id")
    term = (
        pl.when(pl.col("kind") == "revolving")
        .then(None)
        .otherwise(pl.lit([3, 6, 12]).list.get(below(key, seed, 40, 3)))
    )
    return lines.with_columns(
        pl.col("credit_line_id").alias("loan_id"),
        term.alias("term_months"),
        pl.when(pl.col("kind") == "revolving")
        .then(0)
        .otherwise(pl.col("limit_fen") * (20 + below(key, seed, 41, 60)) // 100)
        .alias("principal_fen"),
        pl.when(pl.col("kind") == "cash_loan").then(pl.lit("equal_principal")).alias("method"),
        pl.when(pl.col("kind") == "cash_loan")
        .then(pl.lit(5_000_000, pl.Int64))
        .alias("daily_rate_units"),
        pl.lit(7_500_000, pl.Int64).alias("penalty_rate_units"),
        pl.when(pl.col("kind") == "cash_loan")
        .then(pl.lit("principal"))
        .when(pl.col("kind") == "revolving")
        .then(pl.lit("statement"))
        .otherwise(pl.lit("installment"))
        .alias("penalty_base"),
        pl.max_horizontal(
            pl.col("opened_on"), _days_before(BUSINESS_DATE, 5 + below(key, seed, 42, 330))
        ).alias("loan_opened_on"),
        pl.lit("active").alias("loan_status"),
    )


def _installments(loan_frame: pl.DataFrame) -> pl.DataFrame:
    """Monthly rows of the non-revolving loans, paid up to today except on late lines; one
    open cycle row per revolving loan with this month's purchases."""
    due = pl.col("loan_opened_on").dt.offset_by(pl.format("{}mo", pl.col("seq")))
    unpaid = (pl.col("due_date") >= pl.lit(BUSINESS_DATE)) | (
        pl.col("due_date") > _days_before(BUSINESS_DATE, pl.col("dpd") + 1)
    )
    scheduled = (
        loan_frame.filter(pl.col("kind") != "revolving")
        .with_columns(pl.int_ranges(1, pl.col("term_months") + 1).alias("seq"))
        .explode("seq")
        .with_columns(due.alias("due_date"))
        .with_columns(
            (pl.col("principal_fen") // pl.col("term_months")).alias("principal_fen"),
            pl.when(pl.col("kind") == "cash_loan")
            .then(pl.col("principal_fen") * 15 // 1_000)
            .otherwise(0)
            .alias("interest_fen"),
            pl.when(pl.col("kind") == "installment")
            .then(pl.col("principal_fen") * 8 // 1_000)
            .otherwise(0)
            .alias("fee_fen"),
            (~unpaid).alias("paid"),
        )
    )
    cycles = loan_frame.filter(pl.col("kind") == "revolving").with_columns(
        pl.lit(1, pl.Int64).alias("seq"),
        pl.lit(date(2025, 7, 10)).alias("due_date"),
        (pl.col("limit_fen") // 10).alias("principal_fen"),
        pl.lit(0, pl.Int64).alias("interest_fen"),
        pl.lit(0, pl.Int64).alias("fee_fen"),
        pl.lit(False).alias("paid"),
    )
    rows = pl.concat([scheduled, cycles], how="diagonal_relaxed")
    paid = pl.col("paid")
    return rows.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("installment_id"),
        *(
            pl.when(paid).then(pl.col(c)).otherwise(0).alias(f"paid_{c}")
            for c in ("principal_fen", "interest_fen", "fee_fen")
        ),
        pl.when(paid | (pl.col("due_date") <= pl.lit(BUSINESS_DATE)))
        .then(pl.col("interest_fen"))
        .otherwise(0)
        .alias("interest_recognised_fen"),
        pl.when(paid | (pl.col("due_date") <= pl.lit(BUSINESS_DATE)))
        .then(pl.col("fee_fen"))
        .otherwise(0)
        .alias("fee_recognised_fen"),
        pl.when(paid).then(pl.lit("paid")).otherwise(pl.lit("open")).alias("status"),
        pl.when(paid).then(pl.col("due_date")).alias("paid_on"),
    )


def _statements(lines: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Six monthly statements per Huabei line; late lines left their recent minimums unpaid."""
    key = pl.col("credit_line_id") * 8 + pl.col("back")
    statement_date = pl.lit(date(2025, 6, 1)).dt.offset_by(pl.format("-{}mo", pl.col("back")))
    return (
        lines.filter(pl.col("kind") == "revolving")
        .with_columns(pl.int_ranges(0, 6).alias("back"))
        .explode("back")
        .with_columns(statement_date.alias("statement_date"))
        .filter(pl.col("statement_date") > pl.col("opened_on"))
        .with_columns(
            (pl.col("statement_date") + pl.duration(days=9)).alias("due_date"),
            (pl.col("limit_fen") * below(key, seed, 50, 60) // 100).alias("balance_fen"),
        )
        .with_columns(
            ((pl.col("balance_fen") + 5) // 10).alias("minimum_fen"),
            pl.lit(0, pl.Int64).alias("past_due_fen"),
        )
        .with_columns(
            pl.when(pl.col("due_date") > _days_before(BUSINESS_DATE, pl.col("dpd") + 1))
            .then(0)
            .when(uniform(key, seed, 51) < 0.5)
            .then(pl.col("balance_fen"))
            .otherwise(pl.col("minimum_fen"))
            .alias("paid_fen"),
        )
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("statement_id"))
    )


def _journal(loan_frame: pl.DataFrame, rows: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Two legs per draw, purchase and repayment: revolving purchases a few times a month."""
    key = pl.col("loan_id") * 64 + pl.col("n")
    draws = loan_frame.filter(pl.col("kind") != "revolving").select(
        "borrower_id",
        "shard",
        "credit_line_id",
        "loan_id",
        pl.col("loan_opened_on").alias("business_date"),
        pl.when(pl.col("kind") == "cash_loan")
        .then(pl.lit("disbursement"))
        .otherwise(pl.lit("purchase"))
        .alias("event"),
        pl.col("principal_fen").alias("amount_fen"),
    )
    purchases = (
        loan_frame.filter(pl.col("kind") == "revolving")
        .with_columns(pl.int_ranges(0, 1 + below(pl.col("loan_id"), seed, 60, 12)).alias("n"))
        .explode("n")
        .select(
            "borrower_id",
            "shard",
            "credit_line_id",
            "loan_id",
            pl.max_horizontal(
                pl.col("opened_on"), _days_before(BUSINESS_DATE, below(key, seed, 61, 200))
            ).alias("business_date"),
            pl.lit("purchase").alias("event"),
            (100 + below(key, seed, 62, 50_000)).alias("amount_fen"),
        )
    )
    repayments = rows.filter(pl.col("paid")).select(
        "borrower_id",
        "shard",
        "credit_line_id",
        "loan_id",
        pl.col("paid_on").alias("business_date"),
        pl.lit("repayment").alias("event"),
        (-pl.col("principal_fen")).alias("amount_fen"),
    )
    entries = (
        pl.concat([draws, purchases, repayments])
        .sort("business_date", "loan_id")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("entry_id"))
    )
    principal = entries.with_columns(
        pl.lit(1, pl.Int16).alias("line_no"), pl.lit(Account.LOAN_PRINCIPAL.value).alias("account")
    )
    settlement = entries.with_columns(
        pl.lit(2, pl.Int16).alias("line_no"),
        pl.lit(Account.SETTLEMENT.value).alias("account"),
        (-pl.col("amount_fen")).alias("amount_fen"),
    )
    return (
        pl.concat([principal, settlement])
        .sort("entry_id", "line_no")
        .with_columns(pl.lit(None, pl.Int64).alias("basis_fen"))
    )


def _as_table(frame: pl.DataFrame, table: sa.Table) -> pl.DataFrame:
    """The table's columns that the frame has, in table order (the rest take defaults)."""
    return frame.select([c.name for c in table.columns if c.name in frame.columns])


def build_book(n: int, seed: int, catalog: Catalog) -> dict[sa.Table, pl.DataFrame]:
    """Every table's rows as frames; no database is touched here."""
    people = _borrowers(n, seed)
    lines = _lines(people, seed, catalog)
    loan_frame = _loans(lines, seed)
    rows = _installments(loan_frame)
    return {
        borrowers: _as_table(people, borrowers),
        credit_lines: _as_table(lines, credit_lines),
        bureau_records: _as_table(_records(lines, seed), bureau_records),
        bureau_inquiries: _as_table(_inquiries(people, seed), bureau_inquiries),
        loans: _as_table(
            loan_frame.drop("opened_on", "status").rename(
                {"loan_opened_on": "opened_on", "loan_status": "status"}
            ),
            loans,
        ),
        installments: _as_table(rows, installments),
        statements: _as_table(_statements(lines, seed), statements),
        journal: _as_table(_journal(loan_frame, rows, seed), journal),
    }


def reset_database(url: str, sqlite_connect: Callable[..., None] | None = None) -> sa.Engine:
    """A fresh, migrated, empty schema at ``url``; ``sqlite_connect`` is added to the
    engine's connect listeners on SQLite (a bulk load's own pragmas)."""
    engine = make_engine(url)
    if is_sqlite(engine):
        database = engine.url.database
        engine.dispose()
        if database and database != ":memory:":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(database + suffix).unlink(missing_ok=True)
        engine = make_engine(url)
        if sqlite_connect is not None:
            sa.event.listen(engine, "connect", sqlite_connect)
    else:
        # The whole schema, not the tables one by one: the migrations also create
        # functions and triggers, which a rebuild must not find already there.
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade(engine)
    return engine


def load_book(
    engine: sa.Engine,
    book: dict[sa.Table, pl.DataFrame],
    catalog: Catalog,
    log: Callable[[str], None],
) -> None:
    """Initialise the platform at ``BUSINESS_DATE`` and insert every table's frame."""
    with engine.begin() as conn:
        platform.initialise(
            conn, business_date=BUSINESS_DATE, catalog_json=catalog_to_json(catalog)
        )
    for table, frame in book.items():
        started = time.perf_counter()
        for offset in range(0, frame.height, CHUNK):
            with engine.begin() as conn:
                insert_frame(conn, table, frame.slice(offset, CHUNK))
        log(f"{table.name}: {frame.height:,} rows in {time.perf_counter() - started:.1f}s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if is_sqlite(engine) else "VACUUM ANALYZE")


def as_autovacuum_leaves_it(engine: sa.Engine) -> None:
    """VACUUM ANALYZE on PostgreSQL, as autovacuum would have done since the last bulk write.

    Without it a timed run pays for hint bits, dead rows and statistics taken
    before the write (a table analysed empty and then filled makes the planner
    pick plans for an empty table) that no production database would still
    carry. SQLite is left as the application leaves it (crossline does not run
    ANALYZE there).
    """
    if is_sqlite(engine):
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def existing_book(url: str) -> tuple[dict[str, int], list[str], str]:
    """Row counts, borrower ids and database kind of a book built by an earlier run."""
    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {
            table.name: int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
            for table in (credit_lines, bureau_records, journal)
        }
        ids = list(conn.execute(sa.select(borrowers.c.borrower_id)).scalars())
    engine.dispose()
    return counts, ids, engine.dialect.name


def book_at(
    url: str,
    borrowers_count: int,
    seed: int,
    reuse: bool,
    catalog: Catalog,
    log: Callable[[str], None],
) -> tuple[dict[str, int], list[str], str]:
    """Row counts, borrower ids and database kind of the book at ``url``: the one already
    there (``reuse``), or a new one built and loaded after wiping the database."""
    if reuse:
        return existing_book(url)
    started = time.perf_counter()
    book = build_book(borrowers_count, seed, catalog)
    log(f"book built in {time.perf_counter() - started:.1f}s")
    engine = reset_database(url)
    database = engine.dialect.name
    load_book(engine, book, catalog, log)
    engine.dispose()
    counts = {table.name: frame.height for table, frame in book.items()}
    return counts, book[borrowers]["borrower_id"].to_list(), database


def continue_ids(engine: sa.Engine) -> None:
    """Let the services number new rows after the book's.

    The book is inserted with its own ids, which moves no PostgreSQL sequence
    (SQLite takes the largest rowid + 1 anyway), and the journal's entry ids come
    from the ``id_counters`` row the services use, which is moved past the book's
    (created if missing). The other counters need nothing: the book has no rows of
    theirs, and ``allocate_ids`` creates a missing one itself, safely from any
    number of processes at once."""
    with engine.begin() as conn:
        if not is_sqlite(engine):
            for table in (credit_lines, bureau_inquiries, loans, installments, statements):
                column = table.autoincrement_column
                assert column is not None
                conn.execute(
                    sa.select(
                        sa.func.setval(
                            sa.func.pg_get_serial_sequence(table.name, column.name),
                            sa.func.coalesce(sa.func.max(column), 0) + 1,
                            False,
                        )
                    )
                )
        last = conn.execute(sa.select(sa.func.max(journal.c.entry_id))).scalar_one() or 0
        insert = sqlite.insert if is_sqlite(engine) else postgresql.insert
        statement = insert(id_counters).values(name="journal_entry", next_value=last + 1)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"next_value": statement.excluded.next_value},
                where=id_counters.c.next_value <= last,
            )
        )
