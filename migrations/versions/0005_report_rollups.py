"""Report rollups: monthly revenue, recurring flow and sources, kept up to date on write.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

The tables start empty; ``flask reports rebuild-rollups`` fills them from the ledger
(run it once after this migration on a database that already holds payments).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_monthly_revenue',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('disputed_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'currency', 'frequency', name=op.f('pk_report_monthly_revenue')),
    sqlite_with_rowid=False
    )
    op.create_table('report_monthly_sources',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('dimension', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('disputed_minor', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('attempts_paid', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'currency', 'dimension', 'value', name=op.f('pk_report_monthly_sources')),
    sqlite_with_rowid=False
    )
    op.create_table('report_recurring_flow',
    sa.Column('start_month', sa.String(length=7), nullable=False),
    sa.Column('end_month', sa.String(length=7), nullable=False),
    sa.Column('months_lasted', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('supports', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('start_month', 'end_month', 'months_lasted', 'currency', 'frequency', name=op.f('pk_report_recurring_flow')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('report_recurring_flow')
    op.drop_table('report_monthly_sources')
    op.drop_table('report_monthly_revenue')
