"""Indexes for the plan lookups on every close and repayment.

Whether a statement is carried by a plan (``servicing.rows.carried_by_plan``) is asked
of each statement a close, a repayment or a due-date read touches, by line and start
date; whether a loan is a plan's (the scores' spending months) by the plan's loan. A
handful of plans would not need them; a book with many would scan ``plans`` for each.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plans_credit_line_id_started_on"), ["credit_line_id", "started_on"]
        )
        batch_op.create_index(batch_op.f("ix_plans_plan_loan_id"), ["plan_loan_id"])


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plans_plan_loan_id"))
        batch_op.drop_index(batch_op.f("ix_plans_credit_line_id_started_on"))
