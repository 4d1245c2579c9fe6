"""audit chain anchored by an HMAC key

Revision ID: 0004_audit_anchor
Revises: 0003_web_review
Create Date: 2026-12-01

- ``event.key_id``: which audit HMAC key signed the event (a digest of the key, never the
  key); NULL for events hashed with plain SHA-256 (all events before this revision, and
  events of a process without a key). See ``ecgread.audit.anchor``.

Checkpoints are events (``ecgread.audit.checkpoint``) and row seals live in the event
detail (``_rows``), so no other table changes. Existing events and rows are not
re-signed: ``ecgread audit verify`` reports them as an unsigned prefix.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_audit_anchor'
down_revision = '0003_web_review'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('key_id')
