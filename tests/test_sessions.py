"""Sessions and CSRF tokens signed the quicker way are the libraries' own, both ways round:
cookies set before this release stay valid, and nothing we sign is weaker."""

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf, validate_csrf
from itsdangerous import BadSignature, URLSafeTimedSerializer

from membership.web import sessions


def flask_serializer(app: Flask) -> URLSafeTimedSerializer:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer


def ours(app: Flask) -> URLSafeTimedSerializer:
    serializer = sessions.SessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return serializer


SHORT = {"csrf_token": "a" * 40}
LONG = {"csrf_token": "b" * 40, "_user_id": "7", "_id": "c" * 128, "_fresh": True, "n": (1, 2)}


@pytest.mark.parametrize("value", [SHORT, LONG], ids=["first-visit", "signed-in"])
def test_session_cookies_read_both_ways(app: Flask, value: dict[str, object]) -> None:
    assert ours(app).loads(flask_serializer(app).dumps(value)) == value
    assert flask_serializer(app).loads(ours(app).dumps(value)) == value


def test_a_session_cookie_signed_with_another_key_is_refused(app: Flask) -> None:
    forged = URLSafeTimedSerializer("not-our-key", salt="cookie-session").dumps(SHORT)
    with pytest.raises(BadSignature):
        ours(app).loads(forged)


def test_our_csrf_token_passes_flask_wtf_and_theirs_is_the_same(app: Flask) -> None:
    with app.test_request_context("/support"):
        token = sessions.csrf_token()
        validate_csrf(token)  # raises if not
        assert generate_csrf() == token  # one token a request, whoever asks first
        raw = session[sessions.CSRF_FIELD]
    with app.test_request_context("/support"):
        session[sessions.CSRF_FIELD] = raw
        validate_csrf(generate_csrf())
        assert (
            URLSafeTimedSerializer(app.config["WTF_CSRF_SECRET_KEY"], salt="wtf-csrf-token").loads(
                sessions.csrf_token()
            )
            == raw
        )
