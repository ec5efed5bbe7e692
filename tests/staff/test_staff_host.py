"""Staff apart from readers: with STAFF_HOST set, the staff pages answer only there."""

from __future__ import annotations

import pytest

from membership import create_app
from membership.config import ConfigError, load_settings
from tests.conftest import app_environ


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("staff.example.org", "/staff/login", 200),
        ("STAFF.example.org", "/staff/login", 200),
        ("support.example.org", "/staff/login", 404),
        ("support.example.org", "/staff/", 404),
        ("support.example.org", "/staff", 404),
        ("evil.example.net", "/staff/supporters", 404),
        ("support.example.org", "/support", 200),
    ],
    ids=["staff host", "any case", "reader host", "dashboard", "bare", "other", "readers"],
)
def test_staff_pages_answer_only_on_their_host(
    database_url: str, host: str, path: str, status: int
) -> None:
    app = create_app(app_environ(database_url, STAFF_HOST="staff.example.org"))
    response = app.test_client().get(path, base_url=f"http://{host}")
    assert response.status_code == status


def test_without_staff_host_every_host_serves_them(database_url: str) -> None:
    app = create_app(app_environ(database_url))
    response = app.test_client().get("/staff/login", base_url="http://anything.example")
    assert response.status_code == 200


def test_a_staff_host_that_is_not_a_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="STAFF_HOST"):
        load_settings(app_environ("sqlite://", STAFF_HOST="https://staff.example.org/"))
