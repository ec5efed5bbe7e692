"""Supporters and checkout attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Datetimes are ``timestamptz`` on PostgreSQL and naive UTC text on SQLite; the
model type ``UTCDateTime`` makes both timezone-aware UTC in Python.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supporters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("stripe_customer_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supporters")),
        sa.UniqueConstraint("email", name=op.f("uq_supporters_email")),
        sa.UniqueConstraint("stripe_customer_id", name=op.f("uq_supporters_stripe_customer_id")),
    )
    op.create_table(
        "checkout_attempts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("utm_source", sa.String(length=200), nullable=True),
        sa.Column("utm_medium", sa.String(length=200), nullable=True),
        sa.Column("utm_campaign", sa.String(length=200), nullable=True),
        sa.Column("utm_content", sa.String(length=200), nullable=True),
        sa.Column("stripe_session_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "frequency IN ('once', 'monthly', 'annual')",
            name=op.f("ck_checkout_attempts_frequency_known"),
        ),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_checkout_attempts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["supporter_id"],
            ["supporters.id"],
            name=op.f("fk_checkout_attempts_supporter_id_supporters"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_attempts")),
        sa.UniqueConstraint("stripe_session_id", name=op.f("uq_checkout_attempts_stripe_session_id")),
    )
    op.create_index(
        op.f("ix_checkout_attempts_created_at"), "checkout_attempts", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_checkout_attempts_supporter_id"), "checkout_attempts", ["supporter_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_checkout_attempts_supporter_id"), table_name="checkout_attempts")
    op.drop_index(op.f("ix_checkout_attempts_created_at"), table_name="checkout_attempts")
    op.drop_table("checkout_attempts")
    op.drop_table("supporters")
