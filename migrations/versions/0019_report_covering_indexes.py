"""Two report queries read an index alone: a part of a month's revenue, reminders by source.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

The dashboard sets a month that has not ended against the same days of the month
before; the part of that month is added up from its payments (whole months come from the
rollups). At ten million payments those are a hundred thousand rows or more, each read
from the table at a random place (800 ms); from an index holding every column the sum
needs, PostgreSQL reads the index alone. The same for the sources page's reminders by
source (150,000 a year at two million supporters).

Locks: on PostgreSQL ``CREATE INDEX CONCURRENTLY`` (outside the migration's
transaction) takes a SHARE UPDATE EXCLUSIVE lock: webhooks, readers and reminders go on
while it builds (measured: 17 s for both at 10,000,000 payments and 300,000 reminders,
2 cores at load 5); it first waits for transactions already running. An interrupted
build leaves an invalid index, which a re-run drops and builds again. On SQLite
``CREATE INDEX`` holds the writer while it builds: seconds at a million payments.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_payments_revenue_by_time': (
        'payments',
        [
            'paid_at',
            'currency',
            'frequency',
            'status',
            'amount_minor',
            'amount_refunded_minor',
            'amount_disputed_minor',
        ],
    ),
    'ix_reminders_sources_by_time': ('reminders', ['created_at', 'source', 'status', 'sent_at']),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for name, (table, columns) in INDEXES.items():
            op.create_index(name, table, columns)
        return
    with op.get_context().autocommit_block():
        for name, (table, columns) in INDEXES.items():
            _drop_if_invalid(name)
            op.execute(
                f'CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({", ".join(columns)})'
            )


def _drop_if_invalid(name: str) -> None:
    """An earlier build that was interrupted left an invalid index: build it again."""
    invalid = op.get_bind().scalar(
        sa.text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND NOT i.indisvalid"
        ),
        {'name': name},
    )
    if invalid:
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for name, (table, _) in INDEXES.items():
            op.drop_index(name, table_name=table)
        return
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}')
