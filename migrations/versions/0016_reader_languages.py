"""Reader languages: a reminder and a checkout attempt keep the language the reader used.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

- ``reminders.language``: the reminder email is written in the language the reader
  asked in (``/remind-me?lang=ru``, the footer's ``lang``, or their browser's).
- ``checkout_attempts.language``: the language of the gift's Checkout, so the thank-you
  page and the supporter's emails (receipts, failed payments) can speak it.

Both are nullable, with no default: rows from before are read as the default language.

Locks: on PostgreSQL adding a nullable column without a default changes only the
catalogue: each table is locked exclusively for milliseconds, whatever its size, and
neither is rewritten or scanned. On SQLite ``ADD COLUMN`` likewise touches no row.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reminders", sa.Column("language", sa.String(length=35), nullable=True))
    op.add_column("checkout_attempts", sa.Column("language", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkout_attempts") as batch:
        batch.drop_column("language")
    with op.batch_alter_table("reminders") as batch:
        batch.drop_column("language")
