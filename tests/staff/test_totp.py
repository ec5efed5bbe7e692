"""Enrolling in (and leaving) two-step sign-in from the profile."""

from __future__ import annotations

import re

from membership.config import current_settings
from membership.staff import sealing
from membership.staff.service import totp_code
from tests.conftest import csrf_token, sign_in


def _secret_on(page: str) -> str:
    match = re.search(r"<code>([A-Z2-7]{32})</code>", page)
    assert match, "the enrolment page shows no key"
    return match.group(1)


def test_enrolment_shows_a_qr_code_and_keeps_the_secret_once_confirmed(
    app, signed_in_client, frozen_clock, staff_row, audit_entries
) -> None:
    client = signed_in_client("viewer")
    page = client.get("/staff/profile/totp").get_data(as_text=True)
    assert "<svg" in page  # drawn by the app: no external image or script
    assert "<script" not in page and 'src="http' not in page
    secret = _secret_on(page)
    assert _secret_on(client.get("/staff/profile/totp").get_data(as_text=True)) == secret
    assert staff_row(client.staff.id).totp_secret_sealed is None  # nothing kept before the code

    token = csrf_token(client, "/staff/profile/totp")
    wrong = client.post("/staff/profile/totp", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 400
    assert "does not match" in wrong.get_data(as_text=True)
    assert staff_row(client.staff.id).totp_secret_sealed is None

    code = totp_code(secret, frozen_clock())
    right = client.post("/staff/profile/totp", data={"csrf_token": token, "code": code})
    assert right.status_code == 302
    sealed = staff_row(client.staff.id).totp_secret_sealed
    assert sealed is not None and secret not in sealed  # the database never sees it
    with app.app_context():
        assert sealing.unseal(current_settings(), sealed, for_account=client.staff.id) == secret
    [entry] = audit_entries("totp_enrolled")
    assert entry.staff_user_id == client.staff.id

    # From now on the code is asked for at sign-in.
    frozen_clock.advance(seconds=30)
    fresh = app.test_client()
    assert sign_in(fresh, client.staff.email, client.staff.password).headers["Location"] == (
        "/staff/login/code"
    )
    assert (
        sign_in(app.test_client(), client.staff.email, client.staff.password, secret).status_code
        == 302
    )


def test_enrolment_needs_a_signed_in_user(client) -> None:
    assert client.get("/staff/profile/totp").headers["Location"].startswith("/staff/login")


def test_removing_totp_needs_the_password(app, signed_in_client, staff_row, audit_entries) -> None:
    client = signed_in_client("viewer", totp=True)
    token = csrf_token(client, "/staff/profile")
    wrong = client.post(
        "/staff/profile/totp/remove", data={"csrf_token": token, "password": "nope"}
    )
    assert wrong.status_code == 400
    assert staff_row(client.staff.id).totp_secret_sealed is not None

    data = {"csrf_token": token, "password": client.staff.password}
    assert client.post("/staff/profile/totp/remove", data=data).status_code == 302
    assert staff_row(client.staff.id).totp_secret_sealed is None
    assert len(audit_entries("totp_removed")) == 1
    assert (
        sign_in(app.test_client(), client.staff.email, client.staff.password).headers["Location"]
        == "/staff/"
    )
