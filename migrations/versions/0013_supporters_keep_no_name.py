"""Supporters keep no name: an email recognises them, and nothing read the name.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

Since the payloads stopped keeping names (stripped at storage), no name was recorded
any more; the ones recorded before are dropped with the column. A supporter who could be
prosecuted for giving is safer with one fact less about them in every backup.

Locks: on PostgreSQL ``DROP COLUMN`` changes only the catalogue (the values stay in the
rows until they are next written, unreadable), an exclusive lock for milliseconds at any
size; run ``VACUUM FULL supporters`` off-peak if the old names must leave the disk at
once. On SQLite the table is rebuilt (batch mode), holding the writer for that time:
about a second for a million supporters. The downgrade brings the column back empty.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supporters') as batch:
        batch.drop_column('name')


def downgrade() -> None:
    with op.batch_alter_table('supporters') as batch:
        batch.add_column(sa.Column('name', sa.String(length=200), nullable=True))
