"""Make the journal append-only at the database level.

A correction is a reversing posting, never an edit: triggers refuse UPDATE and
DELETE on the journal so that no code path, script or console session can
rewrite history without the database saying no.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE FUNCTION crossline_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'journal is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal "
            "FOR EACH ROW EXECUTE FUNCTION crossline_refuse_change()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER journal_no_{operation.lower()} BEFORE {operation} ON journal "
            f"BEGIN SELECT RAISE(ABORT, 'journal is append-only: {operation} refused'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER journal_append_only ON journal")
        op.execute("DROP FUNCTION crossline_refuse_change()")
        return
    op.execute("DROP TRIGGER journal_no_update")
    op.execute("DROP TRIGGER journal_no_delete")
