"""Newsletter sign-ups with recorded consent and double opt-in.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

- ``newsletter_subscribers``: one row per address (a unique email; NULLs, left by
  unsubscribes, do not collide). It keeps the email, language, source page, the consent
  record (wording, privacy policy's address, time), when it was confirmed or
  unsubscribed, the SHA-256 of the confirmation and unsubscribe links' tokens, and the
  sending state of its one confirmation email. Pending rows are deleted 7 days after
  sign-up (``flask newsletter send`` or ``erase``); unsubscribing erases the address.

The downgrade drops the table, and every subscriber with it: export them first
(``flask newsletter export``) if the list must survive.

Locks: a new, empty table and its indexes; nothing else is touched.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATUSES = "status IN ('pending', 'confirmed', 'unsubscribed')"
MAIL_STATUSES = "mail_status IN ('queued', 'sending', 'sent', 'failed')"


def upgrade() -> None:
    op.create_table(
        "newsletter_subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("consent_wording", sa.Text(), nullable=True),
        sa.Column("consent_privacy_url", sa.String(length=500), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirm_token_hash", sa.String(length=64), nullable=True),
        sa.Column("unsubscribe_token_hash", sa.String(length=64), nullable=True),
        sa.Column("mail_status", sa.String(length=20), nullable=False),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.CheckConstraint(STATUSES, name=op.f("ck_newsletter_subscribers_status_known")),
        sa.CheckConstraint(MAIL_STATUSES, name=op.f("ck_newsletter_subscribers_mail_status_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_newsletter_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_newsletter_subscribers_email")),
        sa.UniqueConstraint(
            "confirm_token_hash", name=op.f("uq_newsletter_subscribers_confirm_token_hash")
        ),
        sa.UniqueConstraint(
            "unsubscribe_token_hash",
            name=op.f("uq_newsletter_subscribers_unsubscribe_token_hash"),
        ),
    )
    op.create_index(
        "ix_newsletter_subscribers_mail_due",
        "newsletter_subscribers",
        ["mail_status", "next_attempt_at"],
    )
    op.create_index(
        "ix_newsletter_subscribers_status_signed_up",
        "newsletter_subscribers",
        ["status", "consented_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_newsletter_subscribers_status_signed_up", "newsletter_subscribers")
    op.drop_index("ix_newsletter_subscribers_mail_due", "newsletter_subscribers")
    op.drop_table("newsletter_subscribers")
