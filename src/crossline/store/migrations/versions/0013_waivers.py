"""Waivers: the record of every penalty, interest or fee an operator forgave.

The journal holds the money (waiver expense against the receivable); this table
holds who granted it and why, which the journal has no place for.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waivers",
        sa.Column("waiver_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("component", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "component in ('penalty','interest','fee')", name=op.f("ck_waivers_component")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_waivers_amount")),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_waivers_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint("waiver_id", name=op.f("pk_waivers")),
    )
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waivers_credit_line_id"), ["credit_line_id"])


def downgrade() -> None:
    op.drop_table("waivers")
