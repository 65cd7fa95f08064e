"""Collections: contact records, night-contact consents and promises to pay.

Contacts are evidence that the collection rules were followed (DOMAIN §5), so
they are protected as the journal is (0002): triggers refuse every UPDATE, and
refuse a DELETE of any record less than two years older than the business
date. The purge command (``collections.retention``) deletes only older ones;
the trigger makes the database say no to any other path as well.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE FUNCTION crossline_contacts_guard() RETURNS trigger AS $$
DECLARE
    cutoff date := (SELECT business_date - interval '2 years' FROM platform);
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'contacts is append-only: UPDATE refused';
    END IF;
    IF cutoff IS NULL OR OLD.business_date >= cutoff THEN
        RAISE EXCEPTION 'contacts are kept 2 years: DELETE of a record of % refused',
            OLD.business_date;
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql
"""

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER contacts_no_update BEFORE UPDATE ON contacts "
    "BEGIN SELECT RAISE(ABORT, 'contacts is append-only: UPDATE refused'); END",
    "CREATE TRIGGER contacts_retention BEFORE DELETE ON contacts "
    "WHEN NOT EXISTS (SELECT 1 FROM platform) "
    "OR OLD.business_date >= (SELECT date(business_date, '-2 years') FROM platform) "
    "BEGIN SELECT RAISE(ABORT, 'contacts are kept 2 years: DELETE refused'); END",
)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("party", sa.String(length=12), nullable=False),
        sa.Column("number_key", sa.String(length=80), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "channel in ('call','sms','app','letter','visit')", name=op.f("ck_contacts_channel")
        ),
        sa.CheckConstraint(
            "party in ('debtor','guarantor','third_party')", name=op.f("ck_contacts_party")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_borrower_id_business_date"), ["borrower_id", "business_date"]
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_number_key_business_date"), ["number_key", "business_date"]
        )
        batch_op.create_index(batch_op.f("ix_contacts_business_date"), ["business_date"])
    op.create_table(
        "contact_consents",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("night_contact", sa.Boolean(), nullable=False),
        sa.Column("set_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_contact_consents_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_contact_consents")),
    )
    op.create_table(
        "promises",
        sa.Column("promise_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("credit_line_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_promises_amount")),
        sa.CheckConstraint("status in ('open','kept','broken')", name=op.f("ck_promises_status")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.contact_id"], name=op.f("fk_promises_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("promise_id", name=op.f("pk_promises")),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promises_borrower_id"), ["borrower_id"])
        batch_op.create_index(batch_op.f("ix_promises_status_shard"), ["status", "shard"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER contacts_guard BEFORE UPDATE OR DELETE ON contacts "
            "FOR EACH ROW EXECUTE FUNCTION crossline_contacts_guard()"
        )
        return
    for trigger in _SQLITE_TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    op.drop_table("promises")
    op.drop_table("contact_consents")
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER contacts_guard ON contacts")
        op.execute("DROP FUNCTION crossline_contacts_guard()")
    op.drop_table("contacts")
