"""Lighter indexes on the webhook path: only what some query looks for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Every index on ``stripe_events`` and ``payments`` is written by every webhook. Nothing
looks events up by type, or payments by status or subscription; events are looked for by
status only when failed, and payments by customer only while no supporter is linked.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'failed'")
UNLINKED = sa.text("supporter_id IS NULL")


def upgrade() -> None:
    op.drop_index('ix_stripe_events_type', table_name='stripe_events')
    op.drop_index('ix_stripe_events_status', table_name='stripe_events')
    op.create_index(
        'ix_stripe_events_failed', 'stripe_events', ['created'],
        sqlite_where=FAILED, postgresql_where=FAILED,
    )
    op.drop_index('ix_payments_status', table_name='payments')
    op.drop_index('ix_payments_stripe_subscription_id', table_name='payments')
    op.drop_index('ix_payments_stripe_customer_id', table_name='payments')
    op.create_index(
        'ix_payments_unlinked_customer', 'payments', ['stripe_customer_id'],
        sqlite_where=UNLINKED, postgresql_where=UNLINKED,
    )


def downgrade() -> None:
    op.drop_index('ix_payments_unlinked_customer', table_name='payments')
    op.create_index('ix_payments_stripe_customer_id', 'payments', ['stripe_customer_id'])
    op.create_index('ix_payments_stripe_subscription_id', 'payments', ['stripe_subscription_id'])
    op.create_index('ix_payments_status', 'payments', ['status'])
    op.drop_index('ix_stripe_events_failed', table_name='stripe_events')
    op.create_index('ix_stripe_events_status', 'stripe_events', ['status'])
    op.create_index('ix_stripe_events_type', 'stripe_events', ['type'])
