"""Alembic environment: runs migrations on the engine handed over by crossline.store.engine."""

from __future__ import annotations

from alembic import context

from crossline.store.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()
