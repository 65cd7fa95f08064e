"""Personalised installment plans (个性化分期, issue 7).

One row per plan offer; an accepted offer becomes the active plan and names the plan
loan that carries the line's balance (``servicing.plans``).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("delinquent_since", sa.Date(), nullable=False),
        sa.Column("dpd_at_offer", sa.Integer(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_waived_fen", sa.BigInteger(), nullable=False),
        sa.Column("apr", sa.String(length=12), nullable=False),
        sa.Column("plan_loan_id", sa.Integer(), nullable=True),
        sa.Column("penalty_rate_units", sa.BigInteger(), nullable=False),
        sa.Column("penalty_base", sa.String(length=12), nullable=False),
        sa.CheckConstraint(
            "status in ('offered','active','broken','completed','superseded')",
            name=op.f("ck_plans_status"),
        ),
        sa.CheckConstraint("months between 2 and 60", name=op.f("ck_plans_months")),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_plans_credit_line_id_credit_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_loan_id"], ["loans.loan_id"], name=op.f("fk_plans_plan_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_borrower_id"), ["borrower_id"])
        batch_op.create_index(batch_op.f("ix_plans_shard_status"), ["shard", "status"])


def downgrade() -> None:
    op.drop_table("plans")
