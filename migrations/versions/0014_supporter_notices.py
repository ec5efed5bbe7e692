"""Supporter notices: the emails a supporter is owed, and a recurring gift's period end.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

A new table, ``supporter_notices`` (one row per email owed: a receipt, a failed payment, an
annual renewal ahead, a change confirmed; it keeps no address and no contents), and one
nullable column, ``recurring_supports.current_period_end`` (the next payment's date, from
Stripe's subscription events).

Locks: creating the table locks nothing existing. On PostgreSQL ``ADD COLUMN`` of a nullable
column without a default changes only the catalogue: an exclusive lock on
``recurring_supports`` for milliseconds at any size, no rewrite (it waits behind running
transactions on that table, so run it when webhooks are quiet or with ``lock_timeout``).
On SQLite it is an ``ALTER TABLE ... ADD COLUMN``, also without a rewrite. Periods are
filled in by the next subscription event of each gift (each renewal sends one).

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'recurring_supports', sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        'supporter_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('supporter_id', sa.Integer(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('payment_failure_id', sa.Integer(), nullable=True),
        sa.Column('recurring_support_id', sa.Integer(), nullable=True),
        sa.Column('support_change_id', sa.String(length=32), nullable=True),
        sa.Column('renews_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('receipt', 'payment_failed', 'renewal_ahead', 'change_confirmed')",
            name=op.f('ck_supporter_notices_kind_known'),
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'dropped')",
            name=op.f('ck_supporter_notices_status_known'),
        ),
        sa.ForeignKeyConstraint(
            ['supporter_id'], ['supporters.id'],
            name=op.f('fk_supporter_notices_supporter_id_supporters'), ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['payment_id'], ['payments.id'],
            name=op.f('fk_supporter_notices_payment_id_payments'), ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['payment_failure_id'], ['payment_failures.id'],
            name=op.f('fk_supporter_notices_payment_failure_id_payment_failures'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['recurring_support_id'], ['recurring_supports.id'],
            name=op.f('fk_supporter_notices_recurring_support_id_recurring_supports'),
            ondelete='SET NULL',
        ),
        sa.ForeignKeyConstraint(
            ['support_change_id'], ['account_support_changes.id'],
            name=op.f('fk_supporter_notices_support_change_id_account_support_changes'),
            ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supporter_notices')),
        sa.UniqueConstraint('key', name=op.f('uq_supporter_notices_key')),
    )
    for column in ('supporter_id', 'support_change_id'):
        op.create_index(f'ix_supporter_notices_{column}', 'supporter_notices', [column])
    op.create_index(
        'ix_supporter_notices_open',
        'supporter_notices',
        ['status', 'id'],
        sqlite_where=sa.text("status IN ('queued', 'sending')"),
        postgresql_where=sa.text("status IN ('queued', 'sending')"),
    )
    op.create_index(
        'ix_supporter_notices_renewals',
        'supporter_notices',
        ['recurring_support_id', 'renews_at'],
        sqlite_where=sa.text("kind = 'renewal_ahead'"),
        postgresql_where=sa.text("kind = 'renewal_ahead'"),
    )


def downgrade() -> None:
    op.drop_table('supporter_notices')
    with op.batch_alter_table('recurring_supports') as batch:
        batch.drop_column('current_period_end')
