"""Index the outbox by borrower and handled flag together.

A decision serves the stored view of a borrower only when the borrower has no
unhandled event, which it asks as ``borrower_id = ? AND NOT handled``. With
only single-column indexes SQLite's planner took the ``handled`` index and
walked every unhandled event in the outbox, so each decision slowed with the
backlog (measured in ``benchmarks/decide.py``: 5 ms to 13 ms per application
after 3,000 unhandled events). The pair index answers it with one seek, and
serves the queries by borrower alone that the old index served.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_borrower_id"))
        batch_op.create_index(
            batch_op.f("ix_outbox_borrower_id_handled"), ["borrower_id", "handled"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_borrower_id_handled"))
        batch_op.create_index(batch_op.f("ix_outbox_borrower_id"), ["borrower_id"], unique=False)
