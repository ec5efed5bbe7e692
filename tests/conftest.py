"""Shared fixtures: one app per test session on a real database, cleaned per test.

The database is a SQLite file in a temporary folder, or PostgreSQL when
``TEST_DATABASE_URL`` names one (``.ci/run`` runs the suite both ways). The suite
empties that database, so it never reads ``DATABASE_URL``: a shell set up to run the
app against its own database cannot point the tests at it by accident. The schema
always comes from the Alembic migrations, as in production.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask_migrate
import pyotp
import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from membership import create_app
from membership.config import with_postgres_driver
from membership.extensions import db
from tests.fake_stripe import FakeStripe, FakeStripeServer
from tests.stripe_events import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET


def _test_database_url(environ: Mapping[str, str]) -> str:
    """TEST_DATABASE_URL with the app's driver, if it names a database kept for tests: one
    with "test" in its name (the same server is written many ways, so comparing it with
    DATABASE_URL cannot tell), and not DATABASE_URL itself."""
    url = with_postgres_driver(environ.get("TEST_DATABASE_URL", ""))
    if not url:
        return ""
    if not url.startswith("postgresql"):
        raise pytest.UsageError("TEST_DATABASE_URL names PostgreSQL only (SQLite needs nothing)")
    name = make_url(url).database or ""
    if "test" not in name.lower() or url == with_postgres_driver(environ.get("DATABASE_URL", "")):
        raise pytest.UsageError(
            f"TEST_DATABASE_URL names the database {name!r}, and the suite empties the "
            "database it runs on: give it one kept for tests, with 'test' in its name"
        )
    return url


POSTGRES_URL = _test_database_url(os.environ)
ON_POSTGRES = bool(POSTGRES_URL)


def pytest_report_header(config: pytest.Config) -> str:
    if ON_POSTGRES:
        return f"database: PostgreSQL ({re.sub(r'//[^@]*@', '//', POSTGRES_URL)})"
    ignored = " DATABASE_URL is set and ignored:" if os.environ.get("DATABASE_URL") else ""
    return (
        f"database: SQLite only.{ignored} set TEST_DATABASE_URL=postgresql+psycopg://.../test "
        "to run on PostgreSQL; .ci/run does both"
    )


def reset_postgres_schema(url: str) -> None:
    """Start from an empty database, whatever an earlier interrupted run left behind."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# The least a production app starts with (test-mode Stripe keys; nothing is called).
PRODUCTION_ENVIRON = {
    "APP_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_BASE_URL": "https://support.example.org",
    "DATABASE_URL": "sqlite://",
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}


def app_environ(database_url: str, **extra: str) -> dict[str, str]:
    """The environment a test app is configured from (no real Stripe keys, ever)."""
    return {
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": "http://support.test",
        "SUPPORT_CURRENCIES": "USD,EUR,GBP,JPY",
        "SUPPORT_AMOUNTS": json.dumps(
            {
                "once:JPY": {"presets": [1000, 3000, 5000], "min": 500, "max": 1000000},
                "monthly:JPY": {"presets": [300, 500, 1000], "min": 300, "max": 1000000},
                "annual:JPY": {"presets": [3000, 5000, 10000], "min": 1000, "max": 1000000},
            }
        ),
        **extra,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if ON_POSTGRES:
        reset_postgres_schema(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[FakeStripe]:
    with FakeStripeServer() as state:
        yield state


@pytest.fixture(scope="session")
def app(database_url: str, fake_stripe_server: FakeStripe) -> Iterator[Flask]:
    app = create_app(
        app_environ(
            database_url,
            STRIPE_SECRET_KEY="sk_test_fake",
            STRIPE_API_BASE=fake_stripe_server.base_url,
            STRIPE_WEBHOOK_SECRET=f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
        )
    )
    with app.app_context():
        flask_migrate.upgrade()
    yield app


@pytest.fixture(autouse=True)
def clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def stripe(fake_stripe_server: FakeStripe) -> Iterator[FakeStripe]:
    """The fake Stripe, with its recorded traffic and sessions cleared for this test."""
    fake_stripe_server.reset()
    yield fake_stripe_server
    fake_stripe_server.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def csrf_token(client: FlaskClient, path: str = "/support") -> str:
    """The CSRF token a real browser would have read from the page."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def from_dashboard(client: FlaskClient, path: str) -> str:
    """An export URL as the dashboard links to it: with the session's CSRF token."""
    if has_app_context():
        # A test's own app context is shared by the client's requests, and Flask-WTF keeps
        # the first token it made in it; a browser's requests each start afresh.
        g.pop("csrf_token", None)
    separator = "&" if "?" in path else "?"
    return f"{path}{separator}csrf_token={csrf_token(client, '/staff/')}"


def post_checkout(client: FlaskClient, **fields: Any) -> Any:
    """Post the support form as a browser would: with the page's CSRF token."""
    data = {"csrf_token": csrf_token(client), **fields}
    return client.post("/support/checkout", data=data)


@pytest.fixture
def dev_app(app: Flask, database_url: str) -> Flask:
    """An app with no Stripe key (development mode), on the migrated test database."""
    return create_app(app_environ(database_url))


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


# --- staff accounts and sign-in (membership.staff) ---------------------------------------
# For any test of staff pages: `staff_user(role)` makes an account, `signed_in_client(role)`
# returns a test client signed in through the real /staff/login form (CSRF token and all).

STAFF_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class StaffAccount:
    """A staff account made for a test, with the secrets a person would know."""

    id: int
    email: str
    role: str
    password: str
    totp_secret: str | None


@pytest.fixture(autouse=True)
def reset_rate_limits(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with fresh rate limits (the in-memory counters outlive a test)."""
    yield
    if "app" in request.fixturenames:
        from membership.extensions import limiter

        with request.getfixturevalue("app").app_context():
            limiter.reset()


@pytest.fixture
def staff_user(app: Flask) -> Callable[..., StaffAccount]:
    """Factory: ``staff_user("admin"|"viewer", email=..., totp=True)`` makes an account."""
    from membership.config import current_settings
    from membership.staff import sealing, service

    counter = itertools.count(1)

    def make(
        role: str = "admin",
        *,
        email: str | None = None,
        password: str = STAFF_PASSWORD,
        totp: bool = False,
    ) -> StaffAccount:
        with app.app_context():
            user = service.create_staff(
                email or f"{role}{next(counter)}@newsroom.test", role, password
            )
            secret = pyotp.random_base32() if totp else None
            if secret:
                user.totp_secret_sealed = sealing.seal(
                    current_settings(), secret, for_account=user.id
                )
                db.session.commit()
            return StaffAccount(user.id, user.email, user.role, password, secret)

    return make


def sign_in(
    client: FlaskClient,
    email: str,
    password: str,
    totp_secret: str | None = None,
    next_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """Sign in through /staff/login as a browser would; the last response is returned."""
    from membership import clock
    from membership.staff.service import totp_code

    query = f"?next={next_path}" if next_path else ""
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": email, "password": password}
    response = client.post(f"/staff/login{query}", data=data, headers=headers)
    if totp_secret is None or response.status_code != 302:
        return response
    assert response.headers["Location"].endswith("/staff/login/code")
    code = {"csrf_token": csrf_token(client, "/staff/login/code")}
    code["code"] = totp_code(totp_secret, clock.now())
    return client.post("/staff/login/code", data=code, headers=headers)


@pytest.fixture
def signed_in_client(app: Flask, staff_user: Callable[..., StaffAccount]) -> Callable[..., Any]:
    """Factory: ``signed_in_client("admin"|"viewer")`` is a test client signed in as a new
    account of that role; the account is on ``client.staff`` (a StaffAccount)."""

    def make(role: str = "admin", **account: Any) -> FlaskClient:
        person = staff_user(role, **account)
        client = app.test_client()
        response = sign_in(client, person.email, person.password, person.totp_secret)
        assert response.status_code == 302, "sign-in through /staff/login failed"
        client.staff = person  # type: ignore[attr-defined]
        return client

    return make
