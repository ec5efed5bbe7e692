"""The schema comes only from Alembic: it applies to an empty database, matches the
models, and downgrades cleanly, on SQLite and (when configured) PostgreSQL."""

import ast
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from membership import create_app
from membership.extensions import db
from membership.staff import sealing
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


def test_enrolled_totp_secrets_are_sealed_by_the_upgrade_and_opened_by_the_downgrade(
    empty_database_url: str,
) -> None:
    """Migration 0007: staff enrolled before it sign in as before (their secret sealed
    with the app's SECRET_KEY), nothing else about the account changes (its audit entries
    still name it), and a downgrade gives the secrets back as they were."""
    app = create_app(app_environ(empty_database_url))
    settings = app.extensions["membership.settings"]
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with app.app_context():
        flask_migrate.upgrade(revision="0006")
        with db.engine.begin() as conn:
            staff_id = conn.execute(
                text(
                    "INSERT INTO staff_users (email, password_hash, role, totp_secret, "
                    "failed_count, session_version, password_changed_at, created_at) "
                    "VALUES ('a@newsroom.test', 'x', 'admin', :secret, 0, 1, :now, :now) "
                    "RETURNING id"
                ),
                {"secret": secret, "now": now},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO audit_entries (at, staff_user_id, staff_email, action) "
                    "VALUES (:now, :staff_id, 'a@newsroom.test', 'sign_in')"
                ),
                {"now": now, "staff_id": staff_id},
            )

        def audited_staff_ids() -> list[int | None]:
            with db.engine.connect() as conn:
                return list(conn.execute(text("SELECT staff_user_id FROM audit_entries")).scalars())

        flask_migrate.upgrade()
        with db.engine.connect() as conn:
            sealed = conn.execute(text("SELECT totp_secret_sealed FROM staff_users")).scalar_one()
        assert secret not in sealed
        assert sealing.unseal(settings, sealed, for_account=staff_id) == secret
        assert audited_staff_ids() == [staff_id]

        flask_migrate.downgrade(revision="0006")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT totp_secret FROM staff_users")).scalar_one() == secret
        assert audited_staff_ids() == [staff_id]
        flask_migrate.downgrade(revision="base")
        db.engine.dispose()


def test_no_migration_imports_the_apps_code() -> None:
    """A migration runs against the code of its own day: importing live modules would
    change what an old revision does whenever they change."""
    folder = Path(__file__).resolve().parents[1] / "migrations" / "versions"
    for revision in folder.glob("*.py"):
        tree = ast.parse(revision.read_text())
        for node in ast.walk(tree):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module]
            assert not any(n and n.startswith("membership") for n in names), revision.name
