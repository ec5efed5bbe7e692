"""Supporter search by part of an email: a trigram index (PostgreSQL ``pg_trgm``).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

The staff's "email contains" search read every supporter (a sequential scan: about half
a second at 2,000,000 supporters). A GIN index of the emails' trigrams answers
``email LIKE '%part%'`` for any part of three characters or more from the index.

PostgreSQL only, and only where ``pg_trgm`` is installed or this role may install it
(it is a trusted extension: a role with CREATE on the database may, since PostgreSQL
13). Elsewhere nothing is created and the search stays correct, as slow as before; a
superuser can run ``CREATE EXTENSION pg_trgm`` and this migration's statements by hand
later (``docs/scale.md``). SQLite: nothing (its search stays a scan, fast at a million).

Locks: ``CREATE INDEX CONCURRENTLY`` (outside the migration's transaction) takes only a
SHARE UPDATE EXCLUSIVE lock on ``supporters``: readers and writers go on while it builds
(measured: 69 s at 2,000,000 supporters on 2 cores at load 10; it waits first for
transactions already running to finish). An interrupted build leaves an invalid index,
which a re-run drops and builds again. The downgrade drops it the same way and leaves
the extension (other things may use it).

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

INDEX = 'ix_supporters_email_trigrams'


def _may_use_trigrams(bind) -> bool:
    """pg_trgm is installed, or available and this role may install it."""
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return True
    return bool(
        bind.scalar(
            sa.text(
                "SELECT 1 FROM pg_available_extension_versions v "
                "WHERE v.name = 'pg_trgm' AND v.version = ("
                "  SELECT default_version FROM pg_available_extensions WHERE name = 'pg_trgm')"
                " AND ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
                "  OR (v.trusted AND has_database_privilege(current_database(), 'CREATE')))"
            )
        )
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    if not _may_use_trigrams(bind):
        print(
            f"{revision}: pg_trgm is not available to this role: the supporter search stays "
            "a scan (correct, slower); see docs/scale.md to add the index later"
        )
        return
    with op.get_context().autocommit_block():
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        _drop_if_invalid()
        op.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} '
            'ON supporters USING gin (email gin_trgm_ops)'
        )


def _drop_if_invalid() -> None:
    """An earlier build that was interrupted left an invalid index: build it again."""
    invalid = op.get_bind().scalar(
        sa.text(
            "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND NOT i.indisvalid"
        ),
        {'name': INDEX},
    )
    if invalid:
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {INDEX}')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {INDEX}')
