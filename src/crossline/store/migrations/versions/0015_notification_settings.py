"""Notification settings and deliveries (issue 7, notifications).

``notification_settings`` holds a borrower's language (zh or en) and their e-mail
address sealed like the identity; ``notification_deliveries`` records each
notification sent through a channel beyond the database, so that delivery is
idempotent by notification id.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "language in ('zh','en')", name=op.f("ck_notification_settings_language")
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_notification_settings_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("delivered_on", sa.Date(), nullable=False),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "notification_id", "channel", name=op.f("pk_notification_deliveries")
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("notification_settings")
