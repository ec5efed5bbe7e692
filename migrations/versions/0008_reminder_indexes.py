"""Reminder indexes: every look-up of a reminder by email, by time or for retention.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

Found by reading each query's plan at a newsroom's volumes (100,000 reminders): a
supporter's page, the dashboard's and the sources page's reminder counts and the
retention run (every minute under the sender's timer) each read every reminder, and a
new reminder sign-up, planned once for any parameters, read every scheduled one. Only
reminders are written here, at the pace of sign-ups and sends; ``CREATE INDEX`` holds
their writes (not their reads) while it runs, a moment at these sizes.

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
# As membership.reminders.models.ERASABLE says it, word for word: a query uses a partial
# index only when it names the same condition.
ERASABLE = sa.text(
    "email IS NOT NULL AND status IN ('sent', 'cancelled', 'converted', 'failed')"
)


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
        'ix_reminders_erasable', 'reminders', ['updated_at'],
        sqlite_where=ERASABLE, postgresql_where=ERASABLE,
    )


def downgrade() -> None:
    op.drop_index('ix_reminders_erasable', table_name='reminders')
    op.drop_index('ix_reminders_converted_at', table_name='reminders')
    op.drop_index('ix_reminders_sent_at', table_name='reminders')
    op.drop_index('ix_reminders_created_at', table_name='reminders')
    op.drop_index('ix_reminders_email', table_name='reminders')
