"""Index installments by due date, whatever their status.

End-of-day recomputes the scores of the borrowers whose view can have moved
(``eod.rescoring``); one way a view moves with time alone is a row falling due,
paid or not, which enters the payment window. The partial index on open rows
cannot find the paid ones; this one finds a day's rows of a partition with one
range scan.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installments_due_date_shard"), ["due_date", "shard"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installments_due_date_shard"))
