"""initial schema

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "borrowers",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("monthly_income_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_borrowers")),
    )
    op.create_table(
        "credit_lines",
        sa.Column("credit_line_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("lender_group", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("daily_rate_units", sa.BigInteger(), nullable=True),
        sa.Column("monthly_fee_rate_units", sa.BigInteger(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("dpd", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bucket", sa.String(length=4), server_default="M0", nullable=False),
        sa.Column("classification", sa.String(length=16), server_default="normal", nullable=False),
        sa.Column("pboc_status", sa.String(length=1), server_default="N", nullable=False),
        sa.Column("written_off_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status in ('active','paused','frozen','closed')", name=op.f("ck_credit_lines_status")
        ),
        sa.CheckConstraint("limit_fen >= 0", name=op.f("ck_credit_lines_limit")),
        sa.PrimaryKeyConstraint("credit_line_id", name=op.f("pk_credit_lines")),
        sa.UniqueConstraint(
            "borrower_id", "product", name=op.f("uq_credit_lines_borrower_id_product")
        ),
    )
    with op.batch_alter_table("credit_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_lines_late_shard",
            ["shard"],
            unique=False,
            sqlite_where=sa.text("dpd > 0"),
            postgresql_where=sa.text("dpd > 0"),
        )

    op.create_table(
        "eod_days",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_eod_days")),
    )
    op.create_table(
        "eod_partitions",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("postings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_date", "partition", name=op.f("pk_eod_partitions")),
    )
    op.create_table(
        "id_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_id_counters")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "journal",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.SmallInteger(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("basis_fen", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", "line_no", name=op.f("pk_journal")),
    )
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journal_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=True),
        sa.Column("credit_line_id", sa.Integer(), nullable=True),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("handled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_borrower_id"), ["borrower_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_handled"), ["handled"], unique=False)

    op.create_table(
        "platform",
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("catalog_json", sa.Text(), nullable=False),
        sa.CheckConstraint("platform_id = 1", name=op.f("ck_platform_singleton")),
        sa.PrimaryKeyConstraint("platform_id", name=op.f("pk_platform")),
    )
    op.create_table(
        "loans",
        sa.Column("loan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("daily_rate_units", sa.BigInteger(), nullable=True),
        sa.Column("penalty_rate_units", sa.BigInteger(), nullable=False),
        sa.Column("penalty_base", sa.String(length=12), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("fee_rate", sa.String(length=16), nullable=True),
        sa.Column("apr", sa.String(length=12), nullable=True),
        sa.Column("merchant", sa.String(length=64), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("dpd", sa.Integer(), server_default="0", nullable=False),
        sa.Column("credit_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "kind in ('cash_loan','installment','revolving','bill_installment')",
            name=op.f("ck_loans_kind"),
        ),
        sa.CheckConstraint(
            "penalty_base in ('principal','installment','statement')", name=op.f("ck_loans_base")
        ),
        sa.CheckConstraint(
            "status in ('active','paid_off','written_off')", name=op.f("ck_loans_status")
        ),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_loans_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loans")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_kind_shard"), ["kind", "shard"], unique=False)

    op.create_table(
        "statements",
        sa.Column("statement_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("minimum_fen", sa.BigInteger(), nullable=False),
        sa.Column("past_due_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("delinquent_since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credit_line_id"],
            ["credit_lines.credit_line_id"],
            name=op.f("fk_statements_credit_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_statements")),
        sa.UniqueConstraint(
            "credit_line_id",
            "statement_date",
            name=op.f("uq_statements_credit_line_id_statement_date"),
        ),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statements_shard_due_date"), ["shard", "due_date"], unique=False
        )

    op.create_table(
        "installments",
        sa.Column("installment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_fen", sa.BigInteger(), nullable=False),
        sa.Column("interest_fen", sa.BigInteger(), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("penalty_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_principal_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_interest_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_fee_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_penalty_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("shadow_interest_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("shadow_penalty_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_recognised_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_recognised_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("billed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "status in ('open','paid','written_off')", name=op.f("ck_installments_status")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_installments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("installment_id", name=op.f("pk_installments")),
        sa.UniqueConstraint("loan_id", "seq", name=op.f("uq_installments_loan_id_seq")),
    )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_installments_open_shard_due_date",
            ["shard", "due_date"],
            unique=False,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_installments_open_shard_due_date",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.drop_table("installments")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statements_shard_due_date"))

    op.drop_table("statements")
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_kind_shard"))

    op.drop_table("loans")
    op.drop_table("platform")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_handled"))
        batch_op.drop_index(batch_op.f("ix_outbox_borrower_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_loan_id"))

    op.drop_table("journal")
    op.drop_table("idempotency_keys")
    op.drop_table("id_counters")
    op.drop_table("eod_partitions")
    op.drop_table("eod_days")
    with op.batch_alter_table("credit_lines", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_credit_lines_late_shard",
            sqlite_where=sa.text("dpd > 0"),
            postgresql_where=sa.text("dpd > 0"),
        )

    op.drop_table("credit_lines")
    op.drop_table("borrowers")
