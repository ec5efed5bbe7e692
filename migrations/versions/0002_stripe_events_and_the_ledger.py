"""Stripe events and the ledger: recurring support, payments, refunds, disputes, failures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('charge_adjustments',
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=255), nullable=True),
    sa.Column('amount_refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('dispute_status', sa.String(length=40), nullable=True),
    sa.Column('amount_disputed_minor', sa.BigInteger(), nullable=False),
    sa.Column('dispute_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('stripe_payment_intent_id', name=op.f('pk_charge_adjustments')),
    sa.UniqueConstraint('stripe_charge_id', name=op.f('uq_charge_adjustments_stripe_charge_id'))
    )
    op.create_table('invoice_payment_intents',
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('stripe_invoice_id', name=op.f('pk_invoice_payment_intents'))
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('api_version', sa.String(length=50), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stripe_events_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_stripe_events_type'), ['type'], unique=False)

    op.create_table('recurring_supports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.String(length=10), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_as_of', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checkout_attempt_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('utm_source', sa.String(length=200), nullable=True),
    sa.Column('utm_medium', sa.String(length=200), nullable=True),
    sa.Column('utm_campaign', sa.String(length=200), nullable=True),
    sa.Column('utm_content', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['checkout_attempt_id'], ['checkout_attempts.id'], name=op.f('fk_recurring_supports_checkout_attempt_id_checkout_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_recurring_supports_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recurring_supports')),
    sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_recurring_supports_stripe_subscription_id'))
    )
    with op.batch_alter_table('recurring_supports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_supports_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_supports_stripe_customer_id'), ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_supports_supporter_id'), ['supporter_id'], unique=False)

    op.create_table('payment_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=False),
    sa.Column('attempt_count', sa.Integer(), nullable=False),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('recurring_support_id', sa.Integer(), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recurring_support_id'], ['recurring_supports.id'], name=op.f('fk_payment_failures_recurring_support_id_recurring_supports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_payment_failures_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_failures')),
    sa.UniqueConstraint('stripe_invoice_id', 'attempt_count', name=op.f('uq_payment_failures_stripe_invoice_id'))
    )
    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_failures_failed_at'), ['failed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_failures_recurring_support_id'), ['recurring_support_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_failures_stripe_customer_id'), ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_failures_stripe_subscription_id'), ['stripe_subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_failures_supporter_id'), ['supporter_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_invoice_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_subscription_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=255), nullable=True),
    sa.Column('supporter_id', sa.Integer(), nullable=True),
    sa.Column('recurring_support_id', sa.Integer(), nullable=True),
    sa.Column('frequency', sa.String(length=10), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('amount_refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('amount_disputed_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('dispute_status', sa.String(length=40), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checkout_attempt_id', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('utm_source', sa.String(length=200), nullable=True),
    sa.Column('utm_medium', sa.String(length=200), nullable=True),
    sa.Column('utm_campaign', sa.String(length=200), nullable=True),
    sa.Column('utm_content', sa.String(length=200), nullable=True),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_payments_amount_not_negative')),
    sa.CheckConstraint('amount_refunded_minor >= 0', name=op.f('ck_payments_refund_not_negative')),
    sa.ForeignKeyConstraint(['checkout_attempt_id'], ['checkout_attempts.id'], name=op.f('fk_payments_checkout_attempt_id_checkout_attempts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recurring_support_id'], ['recurring_supports.id'], name=op.f('fk_payments_recurring_support_id_recurring_supports'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['supporter_id'], ['supporters.id'], name=op.f('fk_payments_supporter_id_supporters'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('stripe_invoice_id', name=op.f('uq_payments_stripe_invoice_id')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_payments_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_paid_at'), ['paid_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_recurring_support_id'), ['recurring_support_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_stripe_customer_id'), ['stripe_customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_stripe_subscription_id'), ['stripe_subscription_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_supporter_id'), ['supporter_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_payments_stripe_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_payments_stripe_customer_id'))
        batch_op.drop_index(batch_op.f('ix_payments_status'))
        batch_op.drop_index(batch_op.f('ix_payments_recurring_support_id'))
        batch_op.drop_index(batch_op.f('ix_payments_paid_at'))

    op.drop_table('payments')
    with op.batch_alter_table('payment_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_failures_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_payment_failures_stripe_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_payment_failures_stripe_customer_id'))
        batch_op.drop_index(batch_op.f('ix_payment_failures_recurring_support_id'))
        batch_op.drop_index(batch_op.f('ix_payment_failures_failed_at'))

    op.drop_table('payment_failures')
    with op.batch_alter_table('recurring_supports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_supports_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_supports_stripe_customer_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_supports_status'))

    op.drop_table('recurring_supports')
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_events_type'))
        batch_op.drop_index(batch_op.f('ix_stripe_events_status'))

    op.drop_table('stripe_events')
    op.drop_table('invoice_payment_intents')
    op.drop_table('charge_adjustments')
