"""Loan extensions (展期): offers and accepted extensions of cash loans.

One row per offer; accepting it marks it ``accepted``, a newer request supersedes it.
The sum of a loan's accepted months is what 《贷款通则》 Art. 12 limits.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extensions",
        sa.Column("extension_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("outstanding_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("apr", sa.String(length=12), nullable=False),
        sa.Column("old_maturity", sa.Date(), nullable=False),
        sa.Column("new_maturity", sa.Date(), nullable=False),
        sa.Column("schedule", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.CheckConstraint("months >= 1", name=op.f("ck_extensions_months")),
        sa.CheckConstraint(
            "status in ('offered','accepted','superseded')", name=op.f("ck_extensions_status")
        ),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_extensions_credit_line_id_credit_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_extensions_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("extension_id", name=op.f("pk_extensions")),
    )
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extensions_credit_line_id_status"), ["credit_line_id", "status"]
        )
        batch_op.create_index(batch_op.f("ix_extensions_loan_id"), ["loan_id"])


def downgrade() -> None:
    op.drop_table("extensions")
