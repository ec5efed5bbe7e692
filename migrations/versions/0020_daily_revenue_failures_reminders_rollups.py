"""Three more report rollups: revenue by day, failures and reminders by month.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

The dashboard read these from the ledger: the part of last month it sets this month
against (up to half a month of payments), and each period's failed collections and
reminders asked for, sent and converted (at ten million payments, 44 ms for a year's
reminders alone). Kept on write like the other rollups, they are a few hundred rows.

Locks: three new, empty tables; no existing table is touched (milliseconds, on either
database). The tables start empty and ``flask reports rebuild-rollups`` fills them, once
the new code is serving: it reads the ledger in one snapshot and locks nothing (about
as long as a rebuild takes: minutes at ten million payments), and adds what the tables
lack at that snapshot, while the new code counts every later write itself, so each
payment, failure and reminder is counted once. Filling them here instead would miss what
the old code wrote between this migration and the new code starting (it does not know
these tables), and would hold a migration open for minutes.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_daily_revenue',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('frequency', sa.String(length=10), nullable=False),
    sa.Column('payments', sa.Integer(), nullable=False),
    sa.Column('gross_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('disputed_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'currency', 'frequency', name=op.f('pk_report_daily_revenue')),
    sqlite_with_rowid=False
    )
    op.create_table('report_monthly_failures',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('month', 'currency', name=op.f('pk_report_monthly_failures')),
    sqlite_with_rowid=False
    )
    op.create_table('report_monthly_reminders',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('asked', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('converted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_report_monthly_reminders')),
    sqlite_with_rowid=False
    )


def downgrade() -> None:
    op.drop_table('report_monthly_reminders')
    op.drop_table('report_monthly_failures')
    op.drop_table('report_daily_revenue')
