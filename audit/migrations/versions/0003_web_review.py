"""web accounts and read reviews (issue 13)

Revision ID: 0003_web_review
Revises: 0002_read_attempts
Create Date: 2027-01-20

- ``web_user``: local accounts of ``ecgread web`` (argon2id hash, role, lockout).
- ``read_review``: a cardiologist's confirmation (F) or correction (C) of a read, with the
  signed statements, measurement overrides and kept/removed/added statement codes.
"""
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = '0003_web_review'
down_revision = '0002_read_attempts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_user',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('failed_logins', sa.Integer(), nullable=False),
        sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('last_login_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_web_user_username', 'web_user', ['username'], unique=True)
    op.create_table(
        'read_review',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('read_id', sa.Integer(), nullable=False),
        sa.Column('signed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('signed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('result_status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('statements_json', sa.Text(), nullable=True),
        sa.Column('overrides_json', sa.Text(), nullable=True),
        sa.Column('kept_json', sa.Text(), nullable=True),
        sa.Column('removed_json', sa.Text(), nullable=True),
        sa.Column('added_json', sa.Text(), nullable=True),
        sa.Column('rhythm_revised', sa.Boolean(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['read_id'], ['ecg_read.id']),
        sa.ForeignKeyConstraint(['report_id'], ['report.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_read_review_read_id', 'read_review', ['read_id'])
    op.create_index('ix_read_review_signed_by', 'read_review', ['signed_by'])
    op.create_index('ix_read_review_signed_at', 'read_review', ['signed_at'])
    # the worklist: unconfirmed ingest reads, critical first, then oldest
    op.create_index('ix_ecg_read_worklist', 'ecg_read', ['trigger', 'status', 'critical'])


def downgrade() -> None:
    op.drop_index('ix_ecg_read_worklist', table_name='ecg_read')
    op.drop_table('read_review')
    op.drop_index('ix_web_user_username', table_name='web_user')
    op.drop_table('web_user')
