"""Who reaches which staff page: anonymous, viewer, admin; disabled and reset accounts.
Every role against every URL is the table of ``test_roles.py``."""

from __future__ import annotations

import pytest
from flask import Flask

from membership import create_app
from membership.staff import service
from membership.staff.service import LOCK_AFTER_FAILURES
from membership.web.sessions import STAFF_COOKIE
from tests.conftest import app_environ, csrf_token, from_dashboard, sign_in

STAFF_PAGES = [
    "/staff/",
    "/staff/reports/sources",
    "/staff/reports/at-risk",
    "/staff/reports/cohorts",
    "/staff/profile",
]
ADMIN_PAGES = [
    "/staff/audit",
    "/staff/exports/payments.csv",
    "/staff/exports/supporters.csv",
]


@pytest.mark.parametrize("path", STAFF_PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path, audit_entries) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")
    assert "text/csv" not in response.content_type


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_viewers_cannot_reach_admin_pages_or_exports(signed_in_client, path, audit_entries) -> None:
    client = signed_in_client("viewer")
    response = client.get(path)
    assert response.status_code == 403
    assert "text/csv" not in response.content_type
    assert [e.action for e in audit_entries()] == ["staff_created", "sign_in"]  # no export


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_viewers_reach_the_reports(signed_in_client, path) -> None:
    assert signed_in_client("viewer").get(path).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admins_reach_admin_pages(signed_in_client, path) -> None:
    client = signed_in_client("admin")
    target = from_dashboard(client, path) if "/exports/" in path else path
    assert client.get(target).status_code == 200


def test_an_export_not_started_from_the_dashboard_is_refused(
    signed_in_client, audit_entries
) -> None:
    """A hostile page can send an admin's browser to an export URL, but not with the token."""
    client = signed_in_client("admin")
    for path in ("/staff/exports/payments.csv", "/staff/exports/supporters.csv"):
        response = client.get(path)
        assert response.status_code == 400
        assert "Exports section of the dashboard" in response.get_data(as_text=True)
        assert client.get(f"{path}?csrf_token=forged").status_code == 400
    assert audit_entries("export_payments") == audit_entries("export_supporters") == []


def test_nav_shows_audit_to_admins_only(signed_in_client) -> None:
    assert "/staff/audit" in signed_in_client("admin").get("/staff/profile").get_data(as_text=True)
    assert "/staff/audit" not in signed_in_client("viewer").get("/staff/profile").get_data(
        as_text=True
    )


def test_disabling_an_account_ends_its_open_session(app: Flask, signed_in_client) -> None:
    client = signed_in_client("admin")
    assert client.get("/staff/audit").status_code == 200
    with app.app_context():
        service.disable_staff(client.staff.email)
    assert client.get("/staff/audit").headers["Location"].startswith("/staff/login")


def test_reset_password_signs_out_every_session(app: Flask, signed_in_client) -> None:
    client = signed_in_client("viewer")
    with app.app_context():
        service.reset_password(client.staff.email, "a brand new password")
    assert client.get("/staff/profile").status_code == 302
    assert sign_in(app.test_client(), client.staff.email, client.staff.password).status_code == 401
    fresh = app.test_client()
    assert sign_in(fresh, client.staff.email, "a brand new password").status_code == 302


def test_changing_password_keeps_this_session_and_ends_the_others(
    app: Flask, staff_user, audit_entries
) -> None:
    person = staff_user("viewer")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, person.email, person.password)
    sign_in(elsewhere, person.email, person.password)
    data = {
        "csrf_token": csrf_token(here, "/staff/profile"),
        "current": person.password,
        "new": "another long password",
        "confirm": "another long password",
    }
    response = here.post("/staff/profile/password", data=data)
    assert response.status_code == 302
    assert here.get("/staff/profile").status_code == 200
    assert elsewhere.get("/staff/profile").status_code == 302
    assert len(audit_entries("password_changed")) == 1


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong current pw", "another long password", "another long password", "not your current"),
        (None, "short", "short", "at least 12 characters"),
        (None, "another long password", "a different one!!", "The two new passwords differ."),
    ],
    ids=["wrong-current", "too-short", "confirmation-differs"],
)
def test_password_change_refusals(signed_in_client, current, new, confirm, message) -> None:
    client = signed_in_client("viewer")
    data = {
        "csrf_token": csrf_token(client, "/staff/profile"),
        "current": current or client.staff.password,
        "new": new,
        "confirm": confirm,
    }
    response = client.post("/staff/profile/password", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert client.get("/staff/profile").status_code == 200  # still signed in, same password


@pytest.fixture
def totp_required_app(app: Flask, database_url: str) -> Flask:
    """The same database, served by an app where a second factor is mandatory."""
    return create_app(app_environ(database_url, STAFF_REQUIRE_TOTP="true"))


def test_mandatory_totp_sends_unenrolled_staff_to_enrol(totp_required_app, staff_user) -> None:
    person = staff_user("admin")
    client = totp_required_app.test_client()
    assert sign_in(client, person.email, person.password).status_code == 302
    for path in ["/staff/", "/staff/audit", "/staff/exports/payments.csv"]:
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/profile/totp?next=")
    assert client.get("/staff/profile").status_code == 200
    assert client.get("/staff/profile/totp").status_code == 200


def test_mandatory_totp_lets_enrolled_staff_in(totp_required_app, staff_user) -> None:
    person = staff_user("admin", totp=True)
    client = totp_required_app.test_client()
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    assert client.get("/staff/audit").status_code == 200


def test_a_session_ends_twelve_hours_after_sign_in(signed_in_client, frozen_clock) -> None:
    client = signed_in_client("viewer")
    frozen_clock.advance(hours=11, minutes=59)
    assert client.get("/staff/profile").status_code == 200
    frozen_clock.advance(minutes=2)
    assert client.get("/staff/profile").headers["Location"].startswith("/staff/login")


def test_a_session_without_its_sign_in_time_is_not_signed_in(signed_in_client) -> None:
    client = signed_in_client("viewer")
    with client.session_transaction("/staff/") as session:
        del session["staff_signed_in_at"]
    assert client.get("/staff/profile").status_code == 302


def test_sign_out_ends_a_copy_of_the_session_cookie_too(app: Flask, signed_in_client) -> None:
    """Sessions live in the signed cookie: sign-out must end them on the server as well."""
    client = signed_in_client("viewer")
    copied = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert copied is not None
    response = client.post(
        "/staff/logout", data={"csrf_token": csrf_token(client, "/staff/logout")}
    )
    assert response.status_code == 302
    thief = app.test_client()
    thief.set_cookie(STAFF_COOKIE, copied.value, path="/staff")
    assert thief.get("/staff/supporters").headers["Location"].startswith("/staff/login")


@pytest.mark.parametrize(
    ("path", "field", "totp"),
    [
        ("/staff/profile/password", "current", False),
        ("/staff/profile/totp/remove", "password", True),
    ],
    ids=["change-password", "remove-second-factor"],
)
def test_wrong_passwords_on_the_profile_count_towards_the_lockout(
    signed_in_client, failures, path, field, totp
) -> None:
    """A stolen session cannot guess the password on the profile page without limit."""
    client = signed_in_client("viewer", totp=totp)
    for _ in range(LOCK_AFTER_FAILURES):
        data = {
            "csrf_token": csrf_token(client, "/staff/profile"),
            field: "not the password",
            "new": "another long password",
            "confirm": "another long password",
        }
        assert client.post(path, data=data).status_code == 400
    count, paused_until = failures(client.staff.id)
    assert count == LOCK_AFTER_FAILURES
    assert paused_until is not None
    data = {
        "csrf_token": csrf_token(client, "/staff/profile"),
        field: client.staff.password,  # now even the right one waits for the pause to end
        "new": "another long password",
        "confirm": "another long password",
    }
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "Too many wrong passwords" in response.get_data(as_text=True)
