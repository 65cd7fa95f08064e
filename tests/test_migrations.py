"""The migrations build exactly the schema that the code declares.

``schema.py`` is what the code queries; the Alembic migrations are what a
deployment runs. If the two drift, a fresh database lacks a column or index
the code relies on, and the tests (which migrate) would only notice where a
query happens to touch it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crossline.store.schema import metadata


def test_migrated_database_matches_the_declared_schema(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
