"""read attempts, one ingest read per ECG

Revision ID: 0002_read_attempts
Revises: 0001
Create Date: 2027-01-10

- ``ecg.attempts``: read attempts started, counted across restarts, so an ECG whose read
  cannot succeed ends ``failed`` after ``read_max_attempts`` instead of being read again
  at every start.
- ``uq_ecg_read_ingest``: at most one ``ecg_read`` with trigger ``ingest`` per ECG (partial
  unique index, SQLite and PostgreSQL). Extra ingest reads left by crashes before this
  revision are kept and re-labelled ``ingest-repeat`` so the index can be built.
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_read_attempts'
down_revision = '0001'
branch_labels = None
depends_on = None

_WHERE = sa.text("trigger = 'ingest'")


def upgrade() -> None:
    with op.batch_alter_table('ecg', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
    op.execute(
        "UPDATE ecg_read SET trigger = 'ingest-repeat' WHERE trigger = 'ingest' AND id NOT IN "
        "(SELECT min(id) FROM ecg_read WHERE trigger = 'ingest' GROUP BY ecg_id)")
    op.create_index('uq_ecg_read_ingest', 'ecg_read', ['ecg_id'], unique=True,
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index('uq_ecg_read_ingest', table_name='ecg_read')
    with op.batch_alter_table('ecg', schema=None) as batch_op:
        batch_op.drop_column('attempts')
