"""Numbers sent as text are 0-9 only (``membership.web.digits``): "²" and "١٢٣" pass
``str.isdigit()`` but not ``int()`` or ``hmac.compare_digest``, and reached a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from membership.web.digits import is_digits, whole_number
from tests.conftest import csrf_token

SUPERSCRIPT_TWO = "\u00b2"
ARABIC_INDIC_123456 = "\u0661\u0662\u0663\u0664\u0665\u0666"


def test_only_ascii_digits_make_a_number() -> None:
    assert whole_number("42") == 42
    assert [whole_number(text) for text in (SUPERSCRIPT_TWO, "\u0661", "", "4 2", "-1")] == [
        None
    ] * 5
    assert not is_digits(ARABIC_INDIC_123456)


def test_a_snooze_of_superscript_days_is_refused(client: FlaskClient) -> None:
    response = client.post("/remind-me/snooze", data={"days": SUPERSCRIPT_TWO})
    assert response.status_code == 400


def test_staff_pages_numbered_in_other_digits(signed_in_client: Callable[..., Any]) -> None:
    admin = signed_in_client("admin")
    assert admin.get(f"/staff/supporters?page={SUPERSCRIPT_TWO}").status_code == 400
    assert admin.get(f"/staff/audit?page={SUPERSCRIPT_TWO}").status_code == 200  # page 1
    # An id past what the databases hold is no supporter, not an overflow.
    assert admin.get("/staff/supporters/99999999999999999999").status_code == 404


def test_a_code_in_arabic_indic_digits_is_a_wrong_code(app: Flask, staff_user: Any) -> None:
    person = staff_user("admin", totp=True)
    client = app.test_client()
    password = {"email": person.email, "password": person.password}
    signed = client.post(
        "/staff/login", data={"csrf_token": csrf_token(client, "/staff/login"), **password}
    )
    assert signed.status_code == 302
    code = {"csrf_token": csrf_token(client, "/staff/login/code"), "code": ARABIC_INDIC_123456}
    assert client.post("/staff/login/code", data=code).status_code == 401
