"""Signing in at /staff/login: password, then the TOTP code when enrolled; signing out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from membership import create_app
from membership.staff.models import SignInFailure
from membership.staff.service import SIGN_IN_REFUSED, totp_code
from membership.web.sessions import STAFF_COOKIE
from tests.conftest import app_environ, csrf_token, sign_in


def _refusal_shown(response) -> bool:
    return SIGN_IN_REFUSED in response.get_data(as_text=True).replace("&#39;", "'")


def test_sign_in_with_password_reaches_the_dashboard_and_is_audited(
    client, staff_user, audit_entries
) -> None:
    person = staff_user("viewer")
    response = sign_in(client, person.email.upper() + "  ", person.password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert client.get("/staff/profile").status_code == 200
    [entry] = audit_entries("sign_in")
    assert (entry.staff_user_id, entry.staff_email) == (person.id, person.email)
    assert entry.remote_addr == "127.0.0.1"
    assert entry.at.tzinfo is not None


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/staff/supporters?page=2", "/staff/supporters?page=2"),
        ("/staff/audit", "/staff/audit"),
        ("https://evil.example/staff", "/staff/"),
        ("//evil.example/staff", "/staff/"),
        ("/support", "/staff/"),
        ("/staff\\@evil.example", "/staff/"),
    ],
    ids=["staff-page-with-query", "audit", "absolute-url", "scheme-relative", "not-staff", "slash"],
)
def test_sign_in_goes_back_only_to_staff_pages(client, staff_user, next_path, location) -> None:
    person = staff_user()
    response = sign_in(client, person.email, person.password, next_path=next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == location


@pytest.mark.parametrize(
    ("email", "password_of"),
    [
        ("nobody@newsroom.test", "right"),
        ("{email}", "wrong"),
        ("{email}", "empty-looking"),
    ],
    ids=["unknown-email", "wrong-password", "password-of-spaces"],
)
def test_refused_sign_in_says_the_same_thing_whatever_was_wrong(
    client, staff_user, audit_entries, email, password_of
) -> None:
    person = staff_user()
    password = {"right": person.password, "wrong": "not the password!", "empty-looking": "   x"}
    response = sign_in(client, email.format(email=person.email), password[password_of])
    assert response.status_code == 401
    assert _refusal_shown(response)
    assert client.get("/staff/profile").status_code == 302  # still signed out
    [entry] = audit_entries("sign_in_failed")
    if password_of == "right":  # the unknown email is not kept: it may be a typed password
        assert (entry.staff_user_id, entry.staff_email, entry.detail) == (
            None,
            None,
            "unknown_account",
        )
    else:
        assert (entry.staff_user_id, entry.detail) == (person.id, "wrong_password")


def test_disabled_account_cannot_sign_in(client, staff_user, app, audit_entries) -> None:
    from membership.staff import service

    person = staff_user()
    with app.app_context():
        service.disable_staff(person.email)
    response = sign_in(client, person.email, person.password)
    assert response.status_code == 401
    assert _refusal_shown(response)
    assert audit_entries("sign_in_failed")[-1].detail == "disabled"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "", "password": "x" * 12}, "Enter your email."),
        ({"email": "a@newsroom.test", "password": ""}, "Enter your password."),
        ({"email": "a" * 300 + "@newsroom.test", "password": "x" * 12}, "Field cannot be longer"),
    ],
    ids=["no-email", "no-password", "email-too-long"],
)
def test_incomplete_sign_in_form_gets_a_message_and_400(
    client, audit_entries, fields, message
) -> None:
    data = {"csrf_token": csrf_token(client, "/staff/login"), **fields}
    response = client.post("/staff/login", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert audit_entries() == []


def test_sign_in_without_csrf_token_is_refused(client, staff_user, audit_entries) -> None:
    person = staff_user()
    response = client.post(
        "/staff/login", data={"email": person.email, "password": person.password}
    )
    assert response.status_code == 400
    assert client.get("/staff/profile").status_code == 302
    assert audit_entries("sign_in") == []


def test_sign_in_starts_a_new_session(client, staff_user) -> None:
    person = staff_user()
    with client.session_transaction("/staff/") as session:
        session["planted"] = "by someone else before sign-in"
    sign_in(client, person.email, person.password)
    with client.session_transaction("/staff/") as session:
        assert "planted" not in session
        assert session["_user_id"] == f"{person.id}:1"
        assert "_remember" not in session or session["_remember"] != "set"


def test_the_staff_session_has_a_cookie_of_its_own(client, staff_user) -> None:
    """Never sent to a reader's page, never with a request another site starts, and short:
    its own name, path /staff, SameSite=Strict, eight hours at most."""
    person = staff_user()
    client.get("/staff/login")
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": person.email}
    response = client.post("/staff/login", data={**data, "password": person.password})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{STAFF_COOKIE}=")
    assert "Path=/staff;" in cookie or cookie.endswith("Path=/staff")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires - datetime.now(UTC) <= timedelta(hours=8, minutes=1)
    assert "Secure" not in cookie  # testing and development run over plain HTTP
    assert "remember_token" not in str(response.headers)
    # a reader's page neither receives nor sets it, and the readers' cookie holds no sign-in
    reader = client.get("/support")
    assert STAFF_COOKIE not in str(reader.headers)
    with client.session_transaction("/support") as reader_session:
        assert "_user_id" not in reader_session


def test_a_staff_cookie_older_than_eight_hours_signs_in_no_one(
    client, staff_user, monkeypatch
) -> None:
    person = staff_user()
    sign_in(client, person.email, person.password)
    assert client.get("/staff/profile").status_code == 200
    later = time.time() + 8 * 3600 + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert client.get("/staff/profile").status_code == 302


def test_session_cookie_is_secure_in_production(database_url: str) -> None:
    production = create_app(
        app_environ(
            database_url,
            APP_ENV="production",
            PUBLIC_BASE_URL="https://support.test",
            STRIPE_SECRET_KEY="sk_test_x",
            STRIPE_WEBHOOK_SECRET="whsec_x",
        )
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    client = production.test_client()
    response = client.get("/staff/login", base_url="https://support.test")
    assert "Secure" in response.headers["Set-Cookie"]


def test_staff_pages_are_never_cached(client) -> None:
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/support").headers.get("Cache-Control", "")


def test_sign_out_needs_a_post_with_csrf_and_is_audited(signed_in_client, audit_entries) -> None:
    client = signed_in_client("viewer")
    page = client.get("/staff/logout")
    assert page.status_code == 200
    assert client.get("/staff/profile").status_code == 200  # a GET signs nobody out
    assert client.post("/staff/logout", data={}).status_code == 400
    assert client.get("/staff/profile").status_code == 200  # nor a POST without the token

    response = client.post(
        "/staff/logout", data={"csrf_token": csrf_token(client, "/staff/logout")}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/profile").headers["Location"].startswith("/staff/login")
    [entry] = audit_entries("sign_out")
    assert entry.staff_user_id == client.staff.id
    with client.session_transaction("/staff/") as session:
        assert "_user_id" not in session


# --- with a second factor ---------------------------------------------------------------


def test_enrolled_account_needs_its_code_after_the_password(
    client, staff_user, frozen_clock, audit_entries
) -> None:
    person = staff_user(totp=True)
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": person.email}
    response = client.post(
        "/staff/login?next=/staff/audit", data={**data, "password": person.password}
    )
    assert response.headers["Location"] == "/staff/login/code"
    assert client.get("/staff/profile").status_code == 302  # not signed in yet
    assert audit_entries("sign_in") == []

    token = csrf_token(client, "/staff/login/code")
    wrong = client.post("/staff/login/code", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 401
    assert _refusal_shown(wrong)
    assert audit_entries("sign_in_failed")[-1].detail == "wrong_code"

    code = totp_code(person.totp_secret, frozen_clock())
    right = client.post(
        "/staff/login/code", data={"csrf_token": token, "code": code[:3] + " " + code[3:]}
    )
    assert right.status_code == 302
    assert right.headers["Location"] == "/staff/audit"
    assert client.get("/staff/profile").status_code == 200
    assert len(audit_entries("sign_in")) == 1


def test_a_code_is_accepted_once(app: Flask, staff_user, frozen_clock) -> None:
    person = staff_user(totp=True)
    assert (
        sign_in(app.test_client(), person.email, person.password, person.totp_secret).status_code
        == 302
    )
    # Someone who saw the code (over a shoulder, in a proxy log) cannot use it again.
    again = sign_in(app.test_client(), person.email, person.password, person.totp_secret)
    assert again.status_code == 401
    frozen_clock.advance(seconds=30)
    assert (
        sign_in(app.test_client(), person.email, person.password, person.totp_secret).status_code
        == 302
    )


def test_of_two_sign_ins_racing_with_one_code_only_one_gets_in(
    app: Flask, staff_user, frozen_clock
) -> None:
    """The second read the account before the first recorded the code as used: the
    record is a conditional UPDATE, so the second is refused all the same."""
    from membership.extensions import db
    from membership.staff import service
    from membership.staff.models import StaffUser

    person = staff_user(totp=True)
    code = totp_code(person.totp_secret, frozen_clock())
    with app.app_context():
        with db.engine.begin() as first:  # the first sign-in records the code's step
            step = int(frozen_clock().timestamp()) // service.TOTP_STEP_SECONDS
            first.execute(
                update(StaffUser).where(StaffUser.id == person.id).values(totp_last_step=step)
            )
        racing = db.session.get(StaffUser, person.id)
        assert racing is not None
        set_committed_value(racing, "totp_last_step", None)  # as read before the first wrote
        with pytest.raises(service.SignInRefused):
            service.check_code(racing, code, "127.0.0.1", frozen_clock())
        db.session.rollback()


def test_a_sign_in_that_read_the_account_before_another_used_the_code_is_refused(
    app: Flask, staff_user, frozen_clock, audit_entries, failures
) -> None:
    """The true race: the second sign-in's transaction read the account, then the first
    recorded the code as used. SQLite will not let a transaction that read an older
    state write (``database is locked``, at once); PostgreSQL re-checks the row. Either
    way the second is refused as a wrong code, never a server error."""
    from membership.extensions import db
    from membership.staff import service
    from membership.staff.models import StaffUser

    person = staff_user(totp=True)
    code = totp_code(person.totp_secret, frozen_clock())
    with app.app_context():
        racing = db.session.get(StaffUser, person.id)  # its transaction is open, and read
        assert racing is not None
        with db.engine.begin() as first:  # meanwhile the first sign-in records the step
            step = int(frozen_clock().timestamp()) // service.TOTP_STEP_SECONDS
            first.execute(
                update(StaffUser).where(StaffUser.id == person.id).values(totp_last_step=step)
            )
        with pytest.raises(service.SignInRefused):
            service.check_code(racing, code, "127.0.0.1", frozen_clock())
    assert failures(person.id)[0] == 1  # counted, committed
    assert [entry.detail for entry in audit_entries("sign_in_failed")] == ["wrong_code"]


def test_wrong_passwords_racing_on_one_account_all_count(
    app: Flask, staff_user, audit_entries, failures
) -> None:
    """A guesser in parallel: this attempt's transaction read the account and its count,
    then another attempt's failure was recorded. Both count; neither is an error."""
    from membership.extensions import db
    from membership.staff import service
    from membership.staff.models import StaffUser

    person = staff_user()
    with app.test_request_context("/"):
        with pytest.raises(service.SignInRefused):
            service.check_password(person.email, "not the password", "127.0.0.1")
        assert db.session.get(StaffUser, person.id) is not None  # read, transaction open
        assert service.failures_of(person.id, "127.0.0.1") is not None
        with db.engine.begin() as other:
            other.execute(  # meanwhile another attempt's failure is recorded
                update(SignInFailure)
                .where(SignInFailure.account == str(person.id))
                .values(failed_count=SignInFailure.failed_count + 1)
            )
        with pytest.raises(service.SignInRefused):
            service.check_password(person.email, "not the password", "127.0.0.1")
    assert failures(person.id) == (3, None)
    assert failures(person.id, None) == (3, None)  # the account from every address
    assert [entry.detail for entry in audit_entries("sign_in_failed")] == ["wrong_password"] * 2


@pytest.mark.parametrize(
    ("seconds", "accepted"),
    [(-30, True), (30, True), (-60, False), (90, False)],
    ids=["previous-step", "next-step", "two-steps-old", "three-steps-ahead"],
)
def test_codes_from_a_drifting_phone_clock(
    client, staff_user, frozen_clock, seconds, accepted
) -> None:
    from datetime import timedelta

    person = staff_user(totp=True)
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": person.email}
    client.post("/staff/login", data={**data, "password": person.password})
    code = totp_code(person.totp_secret, frozen_clock() + timedelta(seconds=seconds))
    token = csrf_token(client, "/staff/login/code")
    response = client.post("/staff/login/code", data={"csrf_token": token, "code": code})
    assert response.status_code == (302 if accepted else 401)


def test_code_step_expires_and_needs_the_password_first(client, staff_user, frozen_clock) -> None:
    assert client.get("/staff/login/code").headers["Location"] == "/staff/login"
    person = staff_user(totp=True)
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": person.email}
    client.post("/staff/login", data={**data, "password": person.password})
    frozen_clock.advance(minutes=6)
    response = client.get("/staff/login/code")
    assert response.headers["Location"] == "/staff/login"


def test_unknown_emails_cost_the_same_argon2_work_as_known_ones(
    client, staff_user, monkeypatch
) -> None:
    from argon2 import PasswordHasher

    from membership.staff import service

    service._dummy_hash()  # made once per process, before any of this
    verified: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(service, "_hasher", CountingHasher())
    person = staff_user()
    sign_in(client, "nobody@newsroom.test", "some password!")
    sign_in(client, person.email, "some password!")
    assert len(verified) == 2
    assert verified[0] == service._dummy_hash()
    assert verified[1] != verified[0]
