"""Reminder indexes: every look-up of a reminder by email, by time or for retention.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

Found by reading each query's plan at a newsroom's volumes (100,000 reminders): a
supporter's page, the dashboard's and the sources page's reminder counts and the
retention run (every minute under the sender's timer) each read every reminder, and a
new reminder sign-up, planned once for any parameters, read every scheduled one.

``CREATE INDEX`` holds writes to ``reminders`` until this migration commits: sign-ups,
sends, and on PostgreSQL the webhooks' reminder suppression, which waits for it (on
SQLite every writer waits for a migration anyway). Seconds at these volumes; run it, as
any migration, before the new release takes traffic.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

SENT = sa.text("sent_at IS NOT NULL")
CONVERTED = sa.text("converted_at IS NOT NULL")
EMAIL_KEPT = sa.text("email IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_reminders_email', 'reminders', ['email'])
    op.create_index('ix_reminders_created_at', 'reminders', ['created_at'])
    op.create_index(
        'ix_reminders_sent_at', 'reminders', ['sent_at'],
        sqlite_where=SENT, postgresql_where=SENT,
    )
    op.create_index(
        'ix_reminders_converted_at', 'reminders', ['converted_at'],
        sqlite_where=CONVERTED, postgresql_where=CONVERTED,
    )
    op.create_index(
        'ix_reminders_erasable', 'reminders', ['status', 'updated_at'],
        sqlite_where=EMAIL_KEPT, postgresql_where=EMAIL_KEPT,
    )


def downgrade() -> None:
    op.drop_index('ix_reminders_erasable', table_name='reminders')
    op.drop_index('ix_reminders_converted_at', table_name='reminders')
    op.drop_index('ix_reminders_sent_at', table_name='reminders')
    op.drop_index('ix_reminders_created_at', table_name='reminders')
    op.drop_index('ix_reminders_email', table_name='reminders')
