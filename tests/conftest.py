"""Database fixtures: every database test runs on SQLite and, when
``CROSSLINE_TEST_DATABASE_URL`` is set, on PostgreSQL too.

With ``CROSSLINE_REQUIRE_POSTGRES=1`` (CI sets it) the session fails unless
PostgreSQL tests actually ran and passed: a suite that silently skips
PostgreSQL is a defect, not a green run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from crossline.catalog import catalog_to_json, load_catalog
from crossline.store import platform
from crossline.store.engine import make_engine, upgrade
from crossline.store.schema import metadata

pytest_plugins = ["tests.web_support"]
"""The portal and console tests' fixtures (a built book, a live server, Chromium)."""

PG_URL = os.environ.get("CROSSLINE_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("CROSSLINE_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
POSTGRES_ONLY = [backend for backend in BACKENDS if backend == "postgresql"]
"""For a test of PostgreSQL's own locking: no parameter (not run) without a server."""
_postgres_passed = 0


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_PG and not PG_URL:
        raise pytest.UsageError(
            "CROSSLINE_REQUIRE_POSTGRES=1 but CROSSLINE_TEST_DATABASE_URL is unset"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_passed
    if report.when == "call" and report.passed and "[postgresql" in report.nodeid:
        _postgres_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        Path(session.config.rootpath, ".pytest_cache").mkdir(exist_ok=True)
        marker = Path(session.config.rootpath, ".pytest_cache", f"pg-passed-{worker}")
        marker.write_text(str(_postgres_passed))
        return
    if REQUIRE_PG:
        total = _postgres_passed + sum(
            int(p.read_text())
            for p in Path(session.config.rootpath, ".pytest_cache").glob("pg-passed-*")
        )
        if total == 0:
            print("\nFAILED: no PostgreSQL test ran and passed (CROSSLINE_REQUIRE_POSTGRES=1)")
            session.exitstatus = 1
        else:
            print(f"\nPostgreSQL tests passed: {total}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        for stale in Path(session.config.rootpath, ".pytest_cache").glob("pg-passed-*"):
            stale.unlink()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` group again on pytest 9.2.

    pytest-xdist 3.8 puts an item in its ``xdist_group`` by appending ``@group`` to the
    item's ``_nodeid``, which pytest 9.2 no longer reads (nodeids are structured now):
    the mark is silently ignored and a group's tests are spread over the workers, each
    building the group's module fixture again (pytest-dev/pytest-xdist#1386). This runs
    after xdist's hook and moves its suffixed id into the structured one.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        legacy = item.__dict__.get("_nodeid")
        if isinstance(legacy, str) and legacy != item.nodeid and hasattr(item, "_id"):
            item._id = type(item._id).parse(legacy)


def _worker_pg_url() -> str:
    assert PG_URL is not None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = make_url(PG_URL)
    name = f"{url.database}_{worker}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[sa.Engine]:
    engine = make_engine(_worker_pg_url())
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade(engine)
    yield engine
    engine.dispose()


_OWNED_SEQUENCES = sa.text(
    "SELECT s.relname FROM pg_class s "
    "JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass "
    "AND d.deptype IN ('a', 'i') "
    "JOIN pg_class t ON t.oid = d.refobjid "
    "WHERE s.relkind = 'S' AND t.relname = ANY(:tables)"
)
"""The sequences behind the tables' id columns: those TRUNCATE ... RESTART IDENTITY restarts."""


def empty_tables(engine: sa.Engine) -> None:
    """Empty every table and restart its ids, as ``TRUNCATE ... RESTART IDENTITY`` does.

    TRUNCATE makes new files for 25 tables and their indexes and syncs them at commit:
    60 ms on an idle machine, 0.6-1 s while the other worker's closes keep the disk busy,
    before each of some 300 PostgreSQL tests. Deleting the few rows a test leaves takes a
    few milliseconds. The journal's append-only triggers refuse DELETE, so the delete runs
    with triggers off (``session_replication_role``, for this transaction only), which
    needs a superuser (CI's ``postgres``); other users get the TRUNCATE.
    """
    tables = [t.name for t in metadata.sorted_tables]
    with engine.begin() as conn:
        if conn.exec_driver_sql("SHOW is_superuser").scalar_one() != "on":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            return
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        for sequence in conn.execute(_OWNED_SEQUENCES, {"tables": tables}).scalars():
            conn.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    pg = request.getfixturevalue("pg_engine")
    empty_tables(pg)
    yield pg


@pytest.fixture
def database_url(engine: sa.Engine) -> str:
    """The URL of the test database, for code that opens its own engine."""
    return engine.url.render_as_string(hide_password=False)


def initialise(engine: sa.Engine, start: date, partitions: int = 1) -> None:
    """Set the business date and the default catalog."""
    with engine.begin() as conn:
        platform.initialise(
            conn,
            business_date=start,
            catalog_json=catalog_to_json(load_catalog("default")),
            partitions=partitions,
        )
