"""TOTP secrets are sealed: the database and the session cookie hold only what SECRET_KEY
opens, and a rotated SECRET_KEY (the old one kept as a fallback) loses no enrolment."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership import clock, create_app
from membership.config import Settings, load_settings
from membership.staff import sealing
from membership.staff.models import AuditEntry, StaffUser
from membership.staff.service import totp_code
from membership.web.sessions import STAFF_COOKIE
from tests.conftest import StaffAccount, app_environ, csrf_token, sign_in

KEY_A = "first-secret-key-" + "a" * 32
KEY_B = "second-secret-key-" + "b" * 32


def settings(secret_key: str, *fallbacks: str) -> Settings:
    environ = app_environ("sqlite://", SECRET_KEY=secret_key)
    if fallbacks:
        environ["SECRET_KEY_FALLBACKS"] = ",".join(fallbacks)
    return load_settings(environ)


def test_a_sealed_secret_opens_only_with_its_key_and_never_shows_it() -> None:
    secret = pyotp.random_base32()
    first = sealing.seal(settings(KEY_A), secret, for_account=7)
    second = sealing.seal(settings(KEY_A), secret, for_account=7)
    assert first != second  # a fresh IV each time: equal secrets do not look equal
    assert secret not in first
    assert sealing.unseal(settings(KEY_A), first, for_account=7) == secret
    with pytest.raises(sealing.Unreadable):
        sealing.unseal(settings(KEY_B), first, for_account=7)
    altered = first[:-6] + ("A" if first[-6] != "A" else "B") + first[-5:]
    with pytest.raises(sealing.Unreadable):
        sealing.unseal(settings(KEY_A), altered, for_account=7)
    with pytest.raises(sealing.Unreadable):  # copied onto another account's row
        sealing.unseal(settings(KEY_A), first, for_account=8)


def test_a_fallback_key_opens_what_the_previous_key_sealed() -> None:
    sealed = sealing.seal(settings(KEY_A), "JBSWY3DPEHPK3PXP", for_account=1)
    rotated = settings(KEY_B, KEY_A)
    assert sealing.unseal(rotated, sealed, for_account=1) == "JBSWY3DPEHPK3PXP"
    assert not sealing.sealed_under_current_key(rotated, sealed)
    resealed = sealing.seal(rotated, "JBSWY3DPEHPK3PXP", for_account=1)
    assert sealing.sealed_under_current_key(rotated, resealed)


def settings_of(app: Flask) -> Settings:
    configured: Settings = app.extensions["membership.settings"]
    return configured


def test_the_session_cookie_never_holds_the_secret_being_enrolled(
    app: Flask, signed_in_client: Callable[..., FlaskClient]
) -> None:
    client = signed_in_client("viewer")
    page = client.get("/staff/profile/totp").get_data(as_text=True)
    secret = page.split("<code>")[1].split("</code>")[0]
    cookie = client.get_cookie(STAFF_COOKIE, path="/staff")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    session = serializer.loads(cookie.value)  # what anyone holding the cookie can read
    assert secret not in repr(session)
    sealed = session["staff_totp_enrolment"]
    assert sealing.unseal(settings_of(app), sealed, for_account=client.staff.id) == secret  # type: ignore[attr-defined]


def test_after_a_key_rotation_staff_sign_in_and_their_secret_is_sealed_again(
    app: Flask,
    database_url: str,
    staff_user: Callable[..., StaffAccount],
    staff_row: Callable[[int], StaffUser],
) -> None:
    person = staff_user("viewer", totp=True)  # sealed under the test app's SECRET_KEY
    old_key = settings_of(app).secret_key
    rotated = create_app(
        app_environ(database_url, SECRET_KEY=KEY_B, SECRET_KEY_FALLBACKS=f"{KEY_A},{old_key}")
    )
    response = sign_in(rotated.test_client(), person.email, person.password, person.totp_secret)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/"
    sealed = staff_row(person.id).totp_secret_sealed or ""
    opened = sealing.unseal(settings(KEY_B), sealed, for_account=person.id)  # the new key alone
    assert opened == person.totp_secret


def test_a_secret_sealed_under_a_forgotten_key_refuses_without_counting(
    app: Flask,
    database_url: str,
    staff_user: Callable[..., StaffAccount],
    failures: Callable[..., tuple[int, object]],
    audit_entries: Callable[[str], list[AuditEntry]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = staff_user("viewer", totp=True)
    forgot = create_app(app_environ(database_url, SECRET_KEY=KEY_B))
    client = forgot.test_client()
    assert sign_in(client, person.email, person.password).headers["Location"].endswith("/code")
    code = {"csrf_token": csrf_token(client, "/staff/login/code")}
    code["code"] = totp_code(person.totp_secret or "", clock.now())  # the right code
    refused = client.post("/staff/login/code", data=code)
    assert refused.status_code != 302
    assert failures(person.id) == (0, None)  # no lockout for what the user cannot fix
    assert "a staff TOTP secret cannot be opened with SECRET_KEY" in caplog.text
    assert person.email not in caplog.text
    [entry] = audit_entries("sign_in_failed")
    assert (entry.staff_user_id, entry.detail) == (person.id, "totp_unreadable")
