"""Mark the business date as closing before its first partition closes.

``closing`` was inferred from a finished partition of the day, so while the first
partition's transaction ran, commands still saw the day open and could change rows
the close was reading. The close now sets this flag first, in a transaction that
waits for the commands in flight (``platform.begin_close``), and clears it when it
moves the date; commands check it again once they hold their borrower.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closing", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("platform", schema=None) as batch_op:
        batch_op.drop_column("closing")
