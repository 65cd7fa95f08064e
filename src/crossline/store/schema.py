"""The database schema (SQLAlchemy Core).

Every row carries ``borrower_id`` and the borrower's ``shard`` (0..1023, a
stable hash of the id) so that one borrower's lines, loans, postings and events
live in one partition: cross-product effects are single-partition work, and an
end-of-day partition is a contiguous shard range that an index can scan.

Money columns are integers of fen (``*_fen``); rate columns are integers of
1e-10 (``*_units``, see ``crossline.money.RATE_SCALE``). Identifiers that must
be reproducible across a crash and a rerun (journal entries) come from the
transactional ``id_counters`` table, not from database sequences.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SHARDS = 1024
"""Borrower hash buckets; EOD partitions are contiguous ranges of these."""

Fen = sa.BigInteger
BorrowerId = sa.String(64)


def _borrower_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("borrower_id", BorrowerId, nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
    ]


platform = sa.Table(
    "platform",
    metadata,
    sa.Column("platform_id", sa.Integer, primary_key=True),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("catalog_json", sa.Text, nullable=False),
    sa.Column("closing", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("platform_id = 1", name="singleton"),
)

id_counters = sa.Table(
    "id_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),
)

eod_partitions = sa.Table(
    "eod_partitions",
    metadata,
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("postings", sa.Integer, nullable=False),
)

eod_days = sa.Table(
    "eod_days",
    metadata,
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("partitions", sa.Integer, nullable=False),
)

borrowers = sa.Table(
    "borrowers",
    metadata,
    *_borrower_columns(),
    sa.Column("monthly_income_fen", Fen, nullable=False),
    sa.Column("verified_income_fen", Fen, nullable=True),
    sa.Column("created_on", sa.Date, nullable=False),
    sa.PrimaryKeyConstraint("borrower_id"),
    sa.Index(None, "shard"),
)

credit_lines = sa.Table(
    "credit_lines",
    metadata,
    sa.Column("credit_line_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("limit_fen", Fen, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("daily_rate_units", sa.BigInteger, nullable=True),
    sa.Column("monthly_fee_rate_units", sa.BigInteger, nullable=True),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("dpd", sa.Integer, nullable=False, server_default="0"),
    sa.Column("bucket", sa.String(4), nullable=False, server_default="M0"),
    sa.Column("classification", sa.String(16), nullable=False, server_default="normal"),
    sa.Column("pboc_status", sa.String(1), nullable=False, server_default="N"),
    sa.Column("written_off_on", sa.Date, nullable=True),
    sa.Column("month_max_dpd", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cured_on", sa.Date, nullable=True),
    sa.Column("granted_limit_fen", Fen, nullable=True),
    sa.Column("managed_on", sa.Date, nullable=True),
    sa.UniqueConstraint("borrower_id", "product"),
    sa.Index(None, "shard"),
    sa.CheckConstraint("status in ('active','paused','frozen','closed')", name="status"),
    sa.Index(
        "ix_credit_lines_late_shard",
        "shard",
        sqlite_where=sa.text("dpd > 0"),
        postgresql_where=sa.text("dpd > 0"),
    ),
    sa.CheckConstraint("limit_fen >= 0", name="limit"),
)

loans = sa.Table(
    "loans",
    metadata,
    sa.Column("loan_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column(
        "credit_line_id",
        sa.Integer,
        sa.ForeignKey("credit_lines.credit_line_id"),
        nullable=False,
    ),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("principal_fen", Fen, nullable=False),
    sa.Column("method", sa.String(24), nullable=True),
    sa.Column("term_months", sa.Integer, nullable=True),
    sa.Column("daily_rate_units", sa.BigInteger, nullable=True),
    sa.Column("penalty_rate_units", sa.BigInteger, nullable=False),
    sa.Column("penalty_base", sa.String(12), nullable=False),
    sa.Column("grace_days", sa.Integer, nullable=False),
    sa.Column("fee_rate", sa.String(16), nullable=True),
    sa.Column("apr", sa.String(12), nullable=True),
    sa.Column("merchant", sa.String(64), nullable=True),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("dpd", sa.Integer, nullable=False, server_default="0"),
    sa.Column("credit_fen", Fen, nullable=False, server_default="0"),
    sa.Column("closed_on", sa.Date, nullable=True),
    sa.CheckConstraint(
        "kind in ('cash_loan','installment','revolving','bill_installment')", name="kind"
    ),
    sa.Index(None, "kind", "shard"),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "credit_line_id"),
    sa.CheckConstraint("status in ('active','paid_off','written_off')", name="status"),
    sa.CheckConstraint("penalty_base in ('principal','installment','statement')", name="base"),
)

installments = sa.Table(
    "installments",
    metadata,
    sa.Column("installment_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("loan_id", sa.Integer, sa.ForeignKey("loans.loan_id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("principal_fen", Fen, nullable=False),
    sa.Column("interest_fen", Fen, nullable=False),
    sa.Column("fee_fen", Fen, nullable=False),
    sa.Column("penalty_fen", Fen, nullable=False, server_default="0"),
    sa.Column("paid_principal_fen", Fen, nullable=False, server_default="0"),
    sa.Column("paid_interest_fen", Fen, nullable=False, server_default="0"),
    sa.Column("paid_fee_fen", Fen, nullable=False, server_default="0"),
    sa.Column("paid_penalty_fen", Fen, nullable=False, server_default="0"),
    sa.Column("shadow_interest_fen", Fen, nullable=False, server_default="0"),
    sa.Column("shadow_penalty_fen", Fen, nullable=False, server_default="0"),
    sa.Column("interest_recognised_fen", Fen, nullable=False, server_default="0"),
    sa.Column("fee_recognised_fen", Fen, nullable=False, server_default="0"),
    sa.Column("billed_on", sa.Date, nullable=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("paid_on", sa.Date, nullable=True),
    sa.UniqueConstraint("loan_id", "seq"),
    sa.Index(
        "ix_installments_open_shard_due_date",
        "shard",
        "due_date",
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.Index(None, "due_date", "shard"),
    sa.CheckConstraint("status in ('open','paid','written_off')", name="status"),
)

statements = sa.Table(
    "statements",
    metadata,
    sa.Column("statement_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column(
        "credit_line_id",
        sa.Integer,
        sa.ForeignKey("credit_lines.credit_line_id"),
        nullable=False,
    ),
    sa.Column("statement_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("balance_fen", Fen, nullable=False),
    sa.Column("minimum_fen", Fen, nullable=False),
    sa.Column("past_due_fen", Fen, nullable=False),
    sa.Column("paid_fen", Fen, nullable=False, server_default="0"),
    sa.Column("delinquent_since", sa.Date, nullable=True),
    sa.UniqueConstraint("credit_line_id", "statement_date"),
    sa.Index(None, "shard", "due_date"),
)

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("entry_id", sa.BigInteger, nullable=False),
    sa.Column("line_no", sa.SmallInteger, nullable=False),
    *_borrower_columns(),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("loan_id", sa.Integer, nullable=True),
    sa.Column("account", sa.String(32), nullable=False),
    sa.Column("amount_fen", Fen, nullable=False),
    sa.Column("basis_fen", Fen, nullable=True),
    sa.PrimaryKeyConstraint("entry_id", "line_no"),
    sa.Index(None, "loan_id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.BigInteger, primary_key=True),
    *_borrower_columns(),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("credit_line_id", sa.Integer, nullable=True),
    sa.Column("loan_id", sa.Integer, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("handled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(None, "borrower_id", "handled"),
    sa.Index(None, "handled"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    *_borrower_columns(),
    sa.Column("command", sa.String(32), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("notification_id", sa.BigInteger, primary_key=True),
    *_borrower_columns(),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("credit_line_id", sa.Integer, nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "credit_line_id", "kind"),
)

bureau_records = sa.Table(
    "bureau_records",
    metadata,
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    *_borrower_columns(),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("opened_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(1), nullable=False),
    sa.Column("actual_status", sa.String(1), nullable=False),
    sa.Column("dpd", sa.Integer, nullable=False),
    sa.Column("max_dpd", sa.Integer, nullable=False),
    sa.Column("balance_fen", Fen, nullable=False),
    sa.Column("limit_fen", Fen, nullable=False),
    sa.Column("overdue_fen", Fen, nullable=False),
    sa.Column("reported_on", sa.Date, nullable=False),
    sa.Column("delinquency_ended_on", sa.Date, nullable=True),
    sa.Column("history", sa.String(24), nullable=False),
    sa.Column("actual_history", sa.String(24), nullable=False),
    sa.PrimaryKeyConstraint("credit_line_id", "period_end"),
    sa.Index(None, "borrower_id", "period_end"),
    sa.Index(None, "shard", "period_end"),
)

bureau_disputes = sa.Table(
    "bureau_disputes",
    metadata,
    sa.Column("dispute_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("claim", sa.Text, nullable=False),
    sa.Column("filed_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("previous_status", sa.String(1), nullable=True),
    sa.Column("resolved_on", sa.Date, nullable=True),
    sa.Column("alerted_on", sa.Date, nullable=True),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "due_on"),
    sa.CheckConstraint(
        "outcome is null or outcome in ('corrected','confirmed','unverifiable')", name="outcome"
    ),
)

bureau_explanations = sa.Table(
    "bureau_explanations",
    metadata,
    sa.Column("explanation_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("filed_on", sa.Date, nullable=False),
    sa.Index(None, "borrower_id"),
)

bureau_inquiries = sa.Table(
    "bureau_inquiries",
    metadata,
    sa.Column("inquiry_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("inquired_on", sa.Date, nullable=False),
    sa.Column("inquirer", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(24), nullable=False),
    sa.Column("hard", sa.Boolean, nullable=False),
    sa.Column("charged", sa.Boolean, nullable=False),
    sa.Index(None, "borrower_id", "inquired_on"),
    sa.CheckConstraint(
        "reason in ('loan_approval','post_loan_management','self_query')", name="reason"
    ),
)

current_scores = sa.Table(
    "current_scores",
    metadata,
    *_borrower_columns(),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("score_id", sa.BigInteger, nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("band", sa.String(12), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("features", sa.Text, nullable=True),
    sa.PrimaryKeyConstraint("borrower_id", "lender_group"),
    sa.Index(None, "shard"),
)

score_history = sa.Table(
    "score_history",
    metadata,
    sa.Column("score_id", sa.BigInteger, primary_key=True),
    *_borrower_columns(),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("band", sa.String(12), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Index(None, "borrower_id", "lender_group"),
)

feature_snapshots = sa.Table(
    "feature_snapshots",
    metadata,
    *_borrower_columns(),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("features", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("borrower_id", "lender_group", "period_end"),
    sa.Index(None, "period_end"),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("policy_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("challenger_share", sa.SmallInteger, nullable=True),
    sa.Column("uploaded_on", sa.Date, nullable=False),
    sa.Column("activated_on", sa.Date, nullable=True),
    sa.UniqueConstraint("lender_group", "version"),
    sa.CheckConstraint("role in ('draft','champion','challenger','retired')", name="role"),
    sa.CheckConstraint(
        "challenger_share is null or (challenger_share between 1 and 99)", name="share"
    ),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("decision_id", sa.BigInteger, primary_key=True),
    *_borrower_columns(),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("credit_line_id", sa.Integer, nullable=True),
    sa.Column("application_id", sa.Integer, nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("policy_version", sa.String(64), nullable=False),
    sa.Column("arm", sa.String(12), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("outputs", sa.Text, nullable=False),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "kind", "business_date"),
    sa.CheckConstraint("arm in ('champion','challenger')", name="arm"),
)

borrower_limits = sa.Table(
    "borrower_limits",
    metadata,
    *_borrower_columns(),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("limit_fen", Fen, nullable=False),
    sa.Column("set_on", sa.Date, nullable=False),
    sa.PrimaryKeyConstraint("borrower_id", "lender_group"),
    sa.CheckConstraint("limit_fen >= 0", name="limit"),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("application_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("requested_limit_fen", Fen, nullable=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("applied_on", sa.Date, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("decision_id", sa.BigInteger, nullable=False),
    sa.Column("documents_required", sa.Text, nullable=False),
    sa.Column("credit_line_id", sa.Integer, nullable=True),
    sa.Index(None, "borrower_id"),
    sa.CheckConstraint("status in ('approved','referred','declined')", name="status"),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("document_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("application_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("monthly_income_fen", Fen, nullable=True),
    sa.Column("submitted_on", sa.Date, nullable=False),
    sa.Column("checked_on", sa.Date, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index(None, "application_id"),
    sa.CheckConstraint("status in ('submitted','verified','rejected')", name="status"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("lender_group", sa.String(32), nullable=False),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("borrower_id", BorrowerId, sa.ForeignKey("borrowers.borrower_id"), nullable=True),
    sa.Column("lender_group", sa.String(32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role in ('borrower','operator','risk_admin')", name="role"),
    sa.CheckConstraint(
        "(role = 'borrower' and borrower_id is not null and lender_group is null) or "
        "(role <> 'borrower' and borrower_id is null and lender_group is not null)",
        name="scope",
    ),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("login", sa.String(64), sa.ForeignKey("users.login"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "expires_at"),
)

auth_failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("failure_id", sa.Integer, primary_key=True),
    sa.Column("subject", sa.String(80), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "subject", "failed_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

borrower_identities = sa.Table(
    "borrower_identities",
    metadata,
    sa.Column("borrower_id", BorrowerId, sa.ForeignKey("borrowers.borrower_id"), primary_key=True),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("name_enc", sa.LargeBinary, nullable=False),
    sa.Column("national_id_enc", sa.LargeBinary, nullable=False),
    sa.Column("phone_enc", sa.LargeBinary, nullable=False),
    sa.Column("national_id_hash", sa.String(64), nullable=False, unique=True),
)

extensions = sa.Table(
    "extensions",
    metadata,
    sa.Column("extension_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column(
        "credit_line_id", sa.Integer, sa.ForeignKey("credit_lines.credit_line_id"), nullable=False
    ),
    sa.Column("loan_id", sa.Integer, sa.ForeignKey("loans.loan_id"), nullable=False),
    sa.Column("months", sa.Integer, nullable=False),
    sa.Column("outstanding_fen", Fen, nullable=False),
    sa.Column("fee_fen", Fen, nullable=False),
    sa.Column("apr", sa.String(12), nullable=False),
    sa.Column("old_maturity", sa.Date, nullable=False),
    sa.Column("new_maturity", sa.Date, nullable=False),
    sa.Column("schedule", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("offered_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("accepted_on", sa.Date, nullable=True),
    sa.Index(None, "loan_id"),
    sa.Index(None, "credit_line_id", "status"),
    sa.CheckConstraint("status in ('offered','accepted','superseded')", name="status"),
    sa.CheckConstraint("months >= 1", name="months"),
)
"""展期 offers and accepted extensions of cash loans (DOMAIN §5, 《贷款通则》 Art. 12):
the terms shown (fee, APR, new maturity, the new schedule as JSON) are kept as offered,
so what the borrower accepted can be shown later."""

waivers = sa.Table(
    "waivers",
    metadata,
    sa.Column("waiver_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column(
        "credit_line_id", sa.Integer, sa.ForeignKey("credit_lines.credit_line_id"), nullable=False
    ),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("component", sa.String(16), nullable=False),
    sa.Column("amount_fen", Fen, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("granted_by", sa.String(128), nullable=False),
    sa.Index(None, "credit_line_id"),
    sa.CheckConstraint("component in ('penalty','interest','fee')", name="component"),
    sa.CheckConstraint("amount_fen > 0", name="amount"),
)
"""Every penalty, interest or fee waiver: who granted how much of what, and why (issue 7)."""

OPEN: sa.ColumnElement[str] = sa.literal_column("'open'")
"""The open status as a literal, so that the planners can use the partial indexes
(a bound parameter would not match their ``WHERE status = 'open'``)."""

APPEND_ONLY_TABLES = ("journal", "audit_log")
"""Tables that database triggers protect from UPDATE and DELETE."""

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("contact_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("local_time", sa.String(5), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("party", sa.String(12), nullable=False),
    sa.Column("number_key", sa.String(80), nullable=True),
    sa.Column("answered", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("operator", sa.String(128), nullable=False),
    sa.Index(None, "borrower_id", "business_date"),
    sa.Index(None, "number_key", "business_date"),
    sa.Index(None, "business_date"),
    sa.CheckConstraint("channel in ('call','sms','app','letter','visit')", name="channel"),
    sa.CheckConstraint("party in ('debtor','guarantor','third_party')", name="party"),
)
"""Collection contacts: append-only, kept at least two years (``collections.retention``)."""

contact_consents = sa.Table(
    "contact_consents",
    metadata,
    sa.Column("borrower_id", BorrowerId, sa.ForeignKey("borrowers.borrower_id"), primary_key=True),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("night_contact", sa.Boolean, nullable=False),
    sa.Column("set_on", sa.Date, nullable=False),
)

promises = sa.Table(
    "promises",
    metadata,
    sa.Column("promise_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.contact_id"), nullable=False),
    sa.Column("amount_fen", Fen, nullable=False),
    sa.Column("made_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("resolved_on", sa.Date, nullable=True),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "status", "shard"),
    sa.CheckConstraint("status in ('open','kept','broken')", name="status"),
    sa.CheckConstraint("amount_fen > 0", name="amount"),
)

early_warnings = sa.Table(
    "early_warnings",
    metadata,
    *_borrower_columns(),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("signals", sa.Text, nullable=False),
    sa.Column("dti_bp", sa.Integer, nullable=True),
    sa.Column("dues_30d_fen", Fen, nullable=False),
    sa.Column("products_with_balance", sa.Integer, nullable=False),
    sa.Column("utilisation_bp", sa.Integer, nullable=True),
    sa.PrimaryKeyConstraint("borrower_id", "period_end"),
    sa.Index(None, "shard", "period_end"),
    sa.CheckConstraint("level in ('ok','watch','act')", name="level"),
)
"""Each borrower's early-warning result, one row per month: every close overwrites its
month's row, so a past month's row is the month-end snapshot the utilisation trend
compares with, and the newest row is the level a worsening is measured from."""

linked_accounts = sa.Table(
    "linked_accounts",
    metadata,
    sa.Column(
        "credit_line_id",
        sa.Integer,
        sa.ForeignKey("credit_lines.credit_line_id"),
        primary_key=True,
    ),
    *_borrower_columns(),
    sa.Column("available_fen", Fen, nullable=False),
    sa.Column("enabled_on", sa.Date, nullable=False),
    sa.Index(None, "shard"),
    sa.CheckConstraint("available_fen >= 0", name="available"),
)
"""The account a line's auto-debit draws on: only its available balance, no account
number (nothing to seal, nothing to leak)."""

autodebit_attempts = sa.Table(
    "autodebit_attempts",
    metadata,
    sa.Column("credit_line_id", sa.Integer, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("attempt", sa.SmallInteger, nullable=False),
    *_borrower_columns(),
    sa.Column("business_date", sa.Date, nullable=False),
    sa.Column("due_fen", Fen, nullable=False),
    sa.Column("debited_fen", Fen, nullable=False),
    sa.Column("outcome", sa.String(8), nullable=False),
    sa.PrimaryKeyConstraint("credit_line_id", "due_date", "attempt"),
    sa.Index(None, "shard", "business_date"),
    sa.CheckConstraint("outcome in ('paid','partial','failed')", name="outcome"),
)

notification_settings = sa.Table(
    "notification_settings",
    metadata,
    sa.Column("borrower_id", BorrowerId, sa.ForeignKey("borrowers.borrower_id"), primary_key=True),
    sa.Column("shard", sa.SmallInteger, nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("email_enc", sa.LargeBinary, nullable=True),
    sa.CheckConstraint("language in ('zh','en')", name="language"),
)
"""A borrower's notification language and, sealed like the identity, their e-mail address
(a borrower without a row reads in Chinese and gets no mail)."""

notification_deliveries = sa.Table(
    "notification_deliveries",
    metadata,
    sa.Column("notification_id", sa.BigInteger, primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("delivered_on", sa.Date, nullable=False),
    sa.Column("sent", sa.Boolean, nullable=False),
)
"""Each notification a channel beyond the database is done with: sent, or not
(``sent`` false: the channel had no address for the borrower, or the mail server
refused it). A delivery run skips
what is here, so a rerun does not send twice."""

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.Integer, primary_key=True, autoincrement=True),
    *_borrower_columns(),
    sa.Column(
        "credit_line_id",
        sa.Integer,
        sa.ForeignKey("credit_lines.credit_line_id"),
        nullable=False,
    ),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("months", sa.Integer, nullable=False),
    sa.Column("offered_on", sa.Date, nullable=False),
    sa.Column("started_on", sa.Date, nullable=True),
    sa.Column("ended_on", sa.Date, nullable=True),
    sa.Column("delinquent_since", sa.Date, nullable=False),
    sa.Column("dpd_at_offer", sa.Integer, nullable=False),
    sa.Column("principal_fen", Fen, nullable=False),
    sa.Column("interest_fen", Fen, nullable=False),
    sa.Column("fee_fen", Fen, nullable=False),
    sa.Column("penalty_fen", Fen, nullable=False),
    sa.Column("penalty_waived_fen", Fen, nullable=False),
    sa.Column("apr", sa.String(12), nullable=False),
    sa.Column("plan_loan_id", sa.Integer, sa.ForeignKey("loans.loan_id"), nullable=True),
    sa.Column("penalty_rate_units", sa.BigInteger, nullable=False),
    sa.Column("penalty_base", sa.String(12), nullable=False),
    sa.Index(None, "borrower_id"),
    sa.Index(None, "shard", "status"),
    sa.Index(None, "credit_line_id", "started_on"),
    sa.Index(None, "plan_loan_id"),
    sa.CheckConstraint(
        "status in ('offered','active','broken','completed','superseded')", name="status"
    ),
    sa.CheckConstraint("months between 2 and 60", name="months"),
)
"""Personalised installment plans (个性化分期): the offer, and once accepted the plan loan
that carries the line's balance; ``delinquent_since`` and the penalty terms are what a
broken plan restores (``servicing.plans``)."""
