"""Supporters' accounts: emailed sign-in links, and changes asked of Stripe.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Two new tables, nothing else touched: ``account_sign_in_links`` (single-use links, the
token kept only as its SHA-256; rows deleted once expired unused, or a day after use)
and ``account_support_changes`` (a change to a recurring gift asked of Stripe, shown as
"being updated" until Stripe's webhook arrives). Both go with their supporter or gift.

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'account_sign_in_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('supporter_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=100), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signed_out_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed')",
            name=op.f('ck_account_sign_in_links_status_known'),
        ),
        sa.ForeignKeyConstraint(
            ['supporter_id'], ['supporters.id'],
            name=op.f('fk_account_sign_in_links_supporter_id_supporters'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_sign_in_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_account_sign_in_links_token_hash')),
    )
    op.create_index(
        'ix_account_sign_in_links_supporter_id', 'account_sign_in_links', ['supporter_id']
    )
    op.create_index(
        'ix_account_sign_in_links_status_created_at', 'account_sign_in_links',
        ['status', 'created_at'],
    )
    op.create_table(
        'account_support_changes',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('recurring_support_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('amount', 'pause', 'resume', 'cancel')",
            name=op.f('ck_account_support_changes_kind_known'),
        ),
        sa.CheckConstraint(
            'amount_minor IS NULL OR amount_minor > 0',
            name=op.f('ck_account_support_changes_amount_positive'),
        ),
        sa.ForeignKeyConstraint(
            ['recurring_support_id'], ['recurring_supports.id'],
            name=op.f('fk_account_support_changes_recurring_support_id_recurring_supports'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_support_changes')),
    )
    op.create_index(
        'ix_account_support_changes_recurring_support_id', 'account_support_changes',
        ['recurring_support_id'],
    )


def downgrade() -> None:
    op.drop_index(
        'ix_account_support_changes_recurring_support_id', table_name='account_support_changes'
    )
    op.drop_table('account_support_changes')
    op.drop_index('ix_account_sign_in_links_status_created_at', table_name='account_sign_in_links')
    op.drop_index('ix_account_sign_in_links_supporter_id', table_name='account_sign_in_links')
    op.drop_table('account_sign_in_links')
