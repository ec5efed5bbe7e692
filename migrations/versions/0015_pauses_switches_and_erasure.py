"""Supporters pause, switch and erase: the ledger records a paused collection, a change
may be a switch of frequency, and erased Stripe customers are remembered by a keyed hash.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

- ``recurring_supports.collection_paused`` and ``collection_resumes_at``: Stripe's
  ``pause_collection`` (the subscription stays ``active`` while no invoice is collected),
  as the subscription's webhook states it; the account page says "paused until".
- ``account_support_changes`` may be a ``switch`` (monthly and annual), with the
  ``frequency`` asked for, and a pause its ``resumes_at``.
- ``erased_customers``: an HMAC of the Stripe customer id of each supporter erased at
  their request (never the id itself), so that a late webhook about that customer does
  not write their email back.

Locks: on PostgreSQL (11 and later) adding a column with a constant default changes only
the catalogue: ``recurring_supports`` is locked exclusively for milliseconds at any
size, and not rewritten. ``account_support_changes`` (one row per change a supporter
asked for: thousands, not millions) has its CHECK constraint replaced, which scans it
under an exclusive lock: milliseconds. On SQLite that table is rebuilt (batch mode), the
same milliseconds; ``recurring_supports`` only gains columns.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'recurring_supports',
        sa.Column('collection_paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        'recurring_supports',
        sa.Column('collection_resumes_at', sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table('account_support_changes') as batch:
        batch.add_column(sa.Column('frequency', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('resumes_at', sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f('ck_account_support_changes_kind_known'), type_='check')
        batch.create_check_constraint(
            op.f('ck_account_support_changes_kind_known'),
            "kind IN ('amount', 'switch', 'pause', 'resume', 'cancel')",
        )
    op.create_table(
        'erased_customers',
        sa.Column('customer_key', sa.String(length=64), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('customer_key', name=op.f('pk_erased_customers')),
    )


def downgrade() -> None:
    op.drop_table('erased_customers')
    op.execute("DELETE FROM account_support_changes WHERE kind = 'switch'")
    with op.batch_alter_table('account_support_changes') as batch:
        batch.drop_constraint(op.f('ck_account_support_changes_kind_known'), type_='check')
        batch.create_check_constraint(
            op.f('ck_account_support_changes_kind_known'),
            "kind IN ('amount', 'pause', 'resume', 'cancel')",
        )
        batch.drop_column('resumes_at')
        batch.drop_column('frequency')
    op.drop_column('recurring_supports', 'collection_resumes_at')
    op.drop_column('recurring_supports', 'collection_paused')
