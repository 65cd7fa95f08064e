"""Personal early warning and auto-debit (issue 7).

``early_warnings`` keeps each borrower's early-warning result, one row per month
(the month-end snapshot the utilisation trend compares with, and the level a
worsening is measured from); ``linked_accounts`` the available balance an
auto-debit line draws on (no account number is stored); ``autodebit_attempts``
each attempt, once per (line, due date, attempt).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "early_warnings",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("signals", sa.Text(), nullable=False),
        sa.Column("dti_bp", sa.Integer(), nullable=True),
        sa.Column("dues_30d_fen", sa.BigInteger(), nullable=False),
        sa.Column("products_with_balance", sa.Integer(), nullable=False),
        sa.Column("utilisation_bp", sa.Integer(), nullable=True),
        sa.CheckConstraint("level in ('ok','watch','act')", name=op.f("ck_early_warnings_level")),
        sa.PrimaryKeyConstraint("borrower_id", "period_end", name=op.f("pk_early_warnings")),
    )
    with op.batch_alter_table("early_warnings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_early_warnings_shard_period_end"), ["shard", "period_end"]
        )
    op.create_table(
        "linked_accounts",
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("available_fen", sa.BigInteger(), nullable=False),
        sa.Column("enabled_on", sa.Date(), nullable=False),
        sa.CheckConstraint("available_fen >= 0", name=op.f("ck_linked_accounts_available")),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_linked_accounts_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint("credit_line_id", name=op.f("pk_linked_accounts")),
    )
    with op.batch_alter_table("linked_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_linked_accounts_shard"), ["shard"])
    op.create_table(
        "autodebit_attempts",
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("due_fen", sa.BigInteger(), nullable=False),
        sa.Column("debited_fen", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.CheckConstraint(
            "outcome in ('paid','partial','failed')", name=op.f("ck_autodebit_attempts_outcome")
        ),
        sa.PrimaryKeyConstraint(
            "credit_line_id", "due_date", "attempt", name=op.f("pk_autodebit_attempts")
        ),
    )
    with op.batch_alter_table("autodebit_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_autodebit_attempts_shard_business_date"), ["shard", "business_date"]
        )


def downgrade() -> None:
    op.drop_table("autodebit_attempts")
    op.drop_table("linked_accounts")
    op.drop_table("early_warnings")
