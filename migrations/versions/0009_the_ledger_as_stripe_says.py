"""The ledger as Stripe says, in any order: prices, first paid invoices, current emails.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

- ``stripe_prices``: each recurring price's interval, learnt from subscription events.
  A renewal's invoice names its price but not the interval, and may arrive before any
  subscription event: the payment's frequency is derived again when the price is learnt.
- ``payments.stripe_price_id``: the price an invoice charged (its largest line), so a
  gift switched from monthly to annual is monthly before the switch and annual after.
- ``recurring_supports.first_paid_at``: a trial counts from its first paid invoice.
- ``supporters.email_as_of``: when Stripe last stated the email we hold, so that the
  latest statement wins whatever order events arrive in.
- ``superseded_emails``: an address a supporter's customer changed away from, and when:
  a guest gift made from it before the change, delivered after it, still finds them.
  Deleted with the supporter.
- ``pending_customer_emails``: a customer's email change that arrived before anything of
  theirs, kept until their gift arrives (then applied and deleted) or for 30 days at most
  (``flask stripe forget-payloads``), as long as the event's own payload is kept.

After upgrading, run ``flask reports rebuild-rollups`` once: recurring support now counts
in the reports from its first paid invoice. Payments recorded before this revision keep
the frequency they had (their price was not kept).

Locks: each ``ADD COLUMN`` of a nullable column with no default changes only the
catalogue (PostgreSQL 11+, SQLite): an exclusive lock for milliseconds at any table
size. Filling ``first_paid_at`` rewrites every recurring support row (one index look-up
of payments each), holding writes to that table meanwhile: seconds for a million. The index on ``payments.stripe_price_id`` is partial (rows that name a price: none
before this revision) so building it reads the table once under a SHARE lock, which
holds webhook writes for that read (about a second a million rows); on a table of
millions, build it first with ``CREATE INDEX CONCURRENTLY`` by hand, then run this.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

HAS_PRICE = sa.text("stripe_price_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        'stripe_prices',
        sa.Column('stripe_price_id', sa.String(length=255), nullable=False),
        sa.Column('frequency', sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "frequency IN ('monthly', 'annual')", name=op.f('ck_stripe_prices_frequency_known')
        ),
        sa.PrimaryKeyConstraint('stripe_price_id', name=op.f('pk_stripe_prices')),
    )
    op.create_table(
        'pending_customer_emails',
        sa.Column('stripe_customer_id', sa.String(length=255), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('stripe_customer_id', name=op.f('pk_pending_customer_emails')),
    )
    op.create_table(
        'superseded_emails',
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('supporter_id', sa.Integer(), nullable=False),
        sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['supporter_id'], ['supporters.id'],
            name=op.f('fk_superseded_emails_supporter_id_supporters'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('email', name=op.f('pk_superseded_emails')),
    )
    op.create_index(
        op.f('ix_superseded_emails_supporter_id'), 'superseded_emails', ['supporter_id']
    )
    with op.batch_alter_table('payments') as batch:
        batch.add_column(sa.Column('stripe_price_id', sa.String(length=255), nullable=True))
    op.create_index(
        'ix_payments_stripe_price_id', 'payments', ['stripe_price_id'],
        sqlite_where=HAS_PRICE, postgresql_where=HAS_PRICE,
    )
    with op.batch_alter_table('recurring_supports') as batch:
        batch.add_column(sa.Column('first_paid_at', sa.DateTime(timezone=True), nullable=True))
    # What the ledger already holds: each recurring support's first paid invoice. The
    # report rollups count from it now: run `flask reports rebuild-rollups` after this.
    op.execute(
        "UPDATE recurring_supports SET first_paid_at = (SELECT min(paid_at) FROM payments"
        " WHERE payments.recurring_support_id = recurring_supports.id)"
    )
    with op.batch_alter_table('supporters') as batch:
        batch.add_column(sa.Column('email_as_of', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supporters') as batch:
        batch.drop_column('email_as_of')
    with op.batch_alter_table('recurring_supports') as batch:
        batch.drop_column('first_paid_at')
    op.drop_index('ix_payments_stripe_price_id', table_name='payments')
    with op.batch_alter_table('payments') as batch:
        batch.drop_column('stripe_price_id')
    op.drop_table('pending_customer_emails')
    op.drop_index(op.f('ix_superseded_emails_supporter_id'), table_name='superseded_emails')
    op.drop_table('superseded_emails')
    op.drop_table('stripe_prices')
