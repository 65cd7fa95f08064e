"""Engines, migrations and connections for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

DEFAULT_URL = "sqlite:///crossline.db"


def database_url(url: str | None = None) -> str:
    """The URL to use: explicit, else ``CROSSLINE_DATABASE_URL``, else the SQLite default."""
    return url or os.environ.get("CROSSLINE_DATABASE_URL") or DEFAULT_URL


def is_sqlite(engine: sa.Engine) -> bool:
    """Whether the engine is the embedded SQLite backend."""
    return engine.dialect.name == "sqlite"


SQLITE_CACHE_PRAGMAS = ("cache_size=-524288", "mmap_size=4294967296", "temp_store=MEMORY")
"""A 512 MiB page cache and memory-mapped reads: the 2 MiB default made a 1M-loan
end-of-day (3 GB database) re-read the same pages from the OS; measured 37.6 s ->
27.1 s for one close (benchmarks/eod.py). Memory is taken only as pages are used."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the single writer; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    for pragma in SQLITE_CACHE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: str | None = None, *, pool_size: int | None = None) -> sa.Engine:
    """Create an engine with the per-backend settings crossline relies on.

    ``pool_size``: the connections kept open, for a process that uses that many at
    once (the API server). SQLAlchemy's default keeps 5 and closes every connection
    lent beyond them when it comes back; on PostgreSQL each new one is a new
    backend process, so 15 request threads on a 5-connection pool opened a
    connection every 70 ms of load (555 in one benchmark run).
    """
    resolved = database_url(url)
    if resolved.startswith("postgresql://"):
        resolved = "postgresql+psycopg://" + resolved.removeprefix("postgresql://")
    sizing: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    engine = sa.create_engine(resolved, future=True, **sizing)
    if is_sqlite(engine):
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(engine: sa.Engine) -> Config:
    migrations = resources.files("crossline.store") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(Path(str(migrations))))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to the latest migration (idempotent)."""
    command.upgrade(_alembic_config(engine), "head")
