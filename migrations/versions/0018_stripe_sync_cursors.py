"""Where an interrupted ``flask stripe sync`` resumes: one cursor per --since.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

A sync over a long outage lists a hundred thousand events, page by page; stopped half
way, the next run starts again after the last page it finished instead of listing (and
asking Stripe for) the first half again (``membership.webhooks.sync``).

Locks: a new, empty table; nothing else is touched. Milliseconds at any size of the
ledger, on PostgreSQL and SQLite.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'stripe_sync_cursors',
        sa.Column('created_since', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('starting_after', sa.String(length=255), nullable=False),
        sa.Column('listed', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('created_since', name=op.f('pk_stripe_sync_cursors')),
    )


def downgrade() -> None:
    op.drop_table('stripe_sync_cursors')
