"""The schema comes only from Alembic: it applies to an empty database, matches the
models, and downgrades cleanly, on SQLite and (when configured) PostgreSQL."""

from collections.abc import Iterator

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from membership import create_app
from membership.extensions import db
from tests.conftest import ON_POSTGRES, POSTGRES_URL, app_environ

EXPECTED_TABLES = {
    "supporters",
    "checkout_attempts",
    "stripe_events",
    "payments",
    "reminders",
    "staff_users",
    "audit_entries",
    "report_monthly_revenue",
    "report_recurring_flow",
    "report_monthly_sources",
}


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A brand-new, empty database of the kind this run tests."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    # Named after the test database, so runs against different databases never collide.
    name = f"{make_url(POSTGRES_URL).database}_migration_check"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_upgrade_match_models_and_downgrade(empty_database_url: str) -> None:
    app = create_app(app_environ(empty_database_url))
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) == set()

        flask_migrate.upgrade()
        assert set(inspect(db.engine).get_table_names()) >= EXPECTED_TABLES
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert differences == [], "models and migrations disagree; write a migration"

        flask_migrate.downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}

        flask_migrate.upgrade()  # and up again: the downgrade left nothing behind
        assert set(inspect(db.engine).get_table_names()) >= EXPECTED_TABLES
        db.engine.dispose()
