"""Sessions and CSRF tokens signed the quicker way are the libraries' own, both ways round:
cookies set before this release stay valid, and nothing we sign is weaker."""

from datetime import UTC, datetime

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


def _flask_made(app: Flask, path: str, value: dict[str, object]) -> tuple[list[str], str | None]:
    """The Set-Cookie and Vary headers Flask's own session interface gives ``value``."""
    with app.test_request_context(path):
        flask_session = SecureCookieSessionInterface().session_class(value)
        flask_session.accessed = flask_session.modified = True
        response = app.response_class("page")
        if path.startswith(sessions.STAFF_PATH):
            interface = sessions.SessionInterface()
            # Flask's steps with our cookie settings (name, path, SameSite, lifetime).
            SecureCookieSessionInterface.save_session(interface, app, flask_session, response)
        else:
            SecureCookieSessionInterface().save_session(app, flask_session, response)
        return response.headers.getlist("Set-Cookie"), response.headers.get("Vary")


def _ours_made(app: Flask, path: str, value: dict[str, object]) -> tuple[list[str], str | None]:
    with app.test_request_context(path):
        our_session = sessions.SessionInterface().session_class(value)
        our_session.accessed = our_session.modified = True
        response = app.response_class("page")
        sessions.SessionInterface().save_session(app, our_session, response)
        return response.headers.getlist("Set-Cookie"), response.headers.get("Vary")


# A token as readers get one (random hex does not shrink, so Flask does not compress it).
FIRST_VISIT = {"csrf_token": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"}


@pytest.mark.parametrize("path", ["/support", "/staff/login"], ids=["reader", "staff"])
@pytest.mark.parametrize("value", [FIRST_VISIT, LONG], ids=["first-visit", "signed-in"])
def test_the_cookie_and_vary_header_are_flasks_own(
    app: Flask, path: str, value: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same second, same bytes: name, value, signature, expiry, path, flags and Vary."""
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 1_800_000_000.0)
    monkeypatch.setattr(sessions.clock, "now", lambda: datetime(2027, 1, 15, 12, tzinfo=UTC))
    theirs = _flask_made(app, path, value)
    assert _ours_made(app, path, value) == theirs
    assert theirs[0] and theirs[1] == "Cookie"


def test_a_session_emptied_is_deleted_as_flask_deletes_it(app: Flask) -> None:
    with app.test_request_context("/support"):
        emptied = sessions.SessionInterface().session_class({"csrf_token": "x"})
        emptied.clear()
        response = app.response_class("page")
        sessions.SessionInterface().save_session(app, emptied, response)
        assert response.headers.getlist("Set-Cookie") == [
            "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/; "
            "SameSite=Lax"
        ]
        assert response.headers["Vary"] == "Cookie"


@pytest.mark.parametrize(
    "value",
    [
        SHORT,
        {"b": 1, "a": None, "c": 2.5, "é": "ünïcode", "d": True},
        {"n": (1, 2)},
        {" t": "looks like a tag"},
        {"nested": {"a": 1}},
    ],
    ids=["token", "scalars-unsorted-unicode", "tuple", "tag-like-key", "nested"],
)
def test_session_json_is_flasks_tagged_json(app: Flask, value: dict[str, object]) -> None:
    """Plain sessions are written without tagging, byte for byte as Flask writes them; any
    other is left to Flask's serializer."""
    interface = sessions.SessionInterface()
    with app.app_context():
        expected = interface.serializer.dumps(value)
        plain = sessions._plain_session_json(interface.serializer, value)
    assert plain is None or plain == expected
    assert (plain is None) == (
        value in ({"n": (1, 2)}, {" t": "looks like a tag"}, {"nested": {"a": 1}})
    )


@pytest.mark.parametrize(
    ("current", "added", "expected"),
    [
        (None, ("Cookie",), "Cookie"),
        ("Accept-Language", ("Cookie",), "Accept-Language, Cookie"),
        ("Accept-Language, cookie", ("Cookie",), "Accept-Language, cookie"),
        ("Origin", ("Accept-Language", "Cookie", "Cookie"), "Origin, Accept-Language, Cookie"),
    ],
)
def test_vary_grows_as_werkzeug_grows_it(
    app: Flask, current: str | None, added: tuple[str, ...], expected: str
) -> None:
    ours = app.response_class("page")
    theirs = app.response_class("page")
    if current is not None:
        ours.headers["Vary"] = theirs.headers["Vary"] = current
    sessions.add_vary(ours, *added)
    for name in added:
        theirs.vary.add(name)
    assert ours.headers["Vary"] == expected
    assert {part.strip().lower() for part in theirs.headers["Vary"].split(",")} == {
        part.strip().lower() for part in expected.split(",")
    }


def test_our_csrf_token_is_byte_for_byte_flask_wtfs(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: 1_800_000_000.0)
    with app.test_request_context("/support"):
        session[sessions.CSRF_FIELD] = FIRST_VISIT["csrf_token"]
        ours_token = sessions.csrf_token()
    theirs = URLSafeTimedSerializer(app.config["WTF_CSRF_SECRET_KEY"], salt="wtf-csrf-token")
    assert ours_token == theirs.dumps(FIRST_VISIT["csrf_token"])
    with app.app_context():
        for value in ("ünïcode", {"b": 1, "a": [1, 2]}):
            assert sessions._csrf_serializer().dumps(value) == theirs.dumps(value)
