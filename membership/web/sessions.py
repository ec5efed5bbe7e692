"""Signed cookies: the session and the CSRF token, each signed once a request.

Flask's session and Flask-WTF's CSRF token are itsdangerous signatures under
``SECRET_KEY`` (with ``SECRET_KEY_FALLBACKS`` still accepted). Built as the libraries
build them, each request made a new serializer and signer, derived the signing key
again, took HMAC's pure-Python path (Flask names SHA-1 through a Python function) and
tried to zlib-compress a payload far too short to shrink: on a reader's first visit to
the support page, about half of what the page costs the server. Here the serializer and
its signer are built once per app and the derived keys once per key; what is signed,
and how, is unchanged, so cookies and tokens from before stay valid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, current_app, g, has_request_context, request, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Response
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes
from itsdangerous.signer import HMACAlgorithm, _lazy_sha1
from werkzeug.http import dump_cookie

from membership import clock

# Below this many bytes of JSON, zlib's own framing outweighs what it could save, so the
# payload is never sent compressed anyway (itsdangerous keeps the shorter of the two).
_WORTH_COMPRESSING = 128
CSRF_FIELD = "csrf_token"  # Flask-WTF's default WTF_CSRF_FIELD_NAME
CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's, so its validate_csrf checks these tokens


class _OneShotHMACSHA1(HMACAlgorithm):
    """HMAC-SHA1 through ``hmac.digest``, which OpenSSL computes in one call; ``hmac.new``
    with a hash given as a function (as both libraries give SHA-1) builds the HMAC in
    Python. The same bytes either way."""

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return hmac.digest(key, value, "sha1")


def _is_sha1(digest_method: Any) -> bool:
    return digest_method in (hashlib.sha1, _lazy_sha1)


class _KeyDerivingOnceSigner(TimestampSigner):
    """A timestamp signer that derives each secret key's signing key once, not per use,
    and signs with SHA-1 in one call where SHA-1 is the hash."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _is_sha1(self.digest_method) and type(self.algorithm) is HMACAlgorithm:
            self.algorithm = _OneShotHMACSHA1(self.digest_method)
        derive = super().derive_key
        self._derived = {key: derive(key) for key in self.secret_keys}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        derived = self._derived.get(key)
        return derived if derived is not None else super().derive_key(key)

    _stamped: tuple[int, bytes] = (-1, b"")  # the last second signed in, as written

    def sign(self, value: str | bytes) -> bytes:
        """``TimestampSigner.sign``, with each second's timestamp encoded once (the cookie and
        the token of every request in that second carry the same one)."""
        now = self.get_timestamp()
        second, stamp = self._stamped
        if second != now:
            stamp = base64_encode(int_to_bytes(now))
            self._stamped = (now, stamp)  # one assignment: threads see one pair or the other
        signed = want_bytes(value) + self.sep + stamp
        return (
            signed
            + self.sep
            + base64_encode(self.algorithm.get_signature(self.derive_key(), signed))
        )


class CookieSerializer(URLSafeTimedSerializer):
    """``URLSafeTimedSerializer`` with one signer for its own salt, kept (signers hold no
    state while signing, so threads share it), and no compression attempt for short
    payloads. Reads everything the plain one writes, and the other way round."""

    default_signer = _KeyDerivingOnceSigner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signer = super().make_signer(self.salt)

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        if salt is None or salt == self.salt:
            return self._signer  # type: ignore[return-value]
        return super().make_signer(salt)  # type: ignore[return-value]

    def dump_payload(self, obj: Any) -> bytes:
        text = _plain_session_json(self.serializer, obj)
        if text is None:
            text = self.serializer.dumps(obj, **self.serializer_kwargs)
        if len(text) >= _WORTH_COMPRESSING:
            return super().dump_payload(obj)
        return base64_encode(text)


# Flask's session JSON, as its tagged serializer writes a dict that needs no tags, with
# the app's default JSON provider: compact, keys sorted, ASCII only.
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=True)
_PLAIN = (str, int, float, type(None))  # bool is an int


class _CompactJSON:
    """itsdangerous's default payload serializer (compact JSON, not only ASCII), with its
    encoder made once: ``json.dumps`` with options builds a new encoder for every call."""

    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    loads = staticmethod(json.loads)

    @classmethod
    def dumps(cls, obj: Any, **options: Any) -> str:
        if options:
            return json.dumps(obj, **{"separators": (",", ":"), "ensure_ascii": False, **options})
        return cls._encoder.encode(obj)


def _plain_session_json(serializer: Any, obj: Any) -> str | None:
    """A session of strings, numbers and nulls (a reader's: the CSRF token) as Flask's
    tagged serializer writes it, without tagging each value first; None for anything
    else (tuples, dates, markup, a key that looks like a tag), which Flask writes."""
    if not isinstance(serializer, TaggedJSONSerializer) or type(obj) is not dict:
        return None
    for key, value in obj.items():
        if type(key) is not str or key[:1] == " " or not isinstance(value, _PLAIN):
            return None
    return _COMPACT_SORTED.encode(obj)


# Staff pages keep a session of their own: another cookie, sent only to /staff, never
# with a request that another site started, and short-lived.
STAFF_PATH = "/staff"
STAFF_COOKIE = "membership_staff"
STAFF_SESSION_LIFETIME = timedelta(hours=8)


_STAFF_REQUEST = "membership.staff_request"  # request.environ key: decided once


def is_staff_request() -> bool:
    """True for a request to the staff pages (``/staff`` and below); decided once a request
    (the session interface asks for each cookie attribute)."""
    if not has_request_context():
        return False
    environ = request.environ
    staff = environ.get(_STAFF_REQUEST)
    if staff is None:
        path = request.path
        staff = environ[_STAFF_REQUEST] = path == STAFF_PATH or path.startswith(STAFF_PATH + "/")
    return bool(staff)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per app, and
    two cookies: the readers' (``session``, the whole site) and the staff's
    (``membership_staff``: path ``/staff``, ``SameSite=Strict``, at most eight hours), so
    a staff sign-in is never sent to, or readable from, a reader's page."""

    # Flask names SHA-1 through a Python function (for FIPS builds that lack it), which
    # sends every HMAC down the standard library's slow path; the same hash, by name.
    digest_method = staticmethod(hashlib.sha1)

    def get_signing_serializer(self, app: Flask) -> CookieSerializer | None:
        serializer = app.extensions.get("membership.session_serializer")
        if serializer is None and app.secret_key:
            serializer = CookieSerializer(
                [*app.config["SECRET_KEY_FALLBACKS"], app.secret_key],  # current key last
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
            app.extensions["membership.session_serializer"] = serializer
        return serializer

    # Each cookie setting for a reader's request or a staff one (``staff``), which Flask's
    # own steps ask for one at a time and ``save_session`` all at once.

    def _name(self, app: Flask, staff: bool) -> str:
        return STAFF_COOKIE if staff else super().get_cookie_name(app)

    def _path(self, app: Flask, staff: bool) -> str:
        return STAFF_PATH if staff else super().get_cookie_path(app)

    def _samesite(self, app: Flask, staff: bool) -> str | None:
        return "Strict" if staff else super().get_cookie_samesite(app)

    def _expires(self, app: Flask, session: SessionMixin, staff: bool) -> datetime | None:
        if staff:
            return clock.now() + STAFF_SESSION_LIFETIME
        return super().get_expiration_time(app, session)

    def get_cookie_name(self, app: Flask) -> str:
        return self._name(app, is_staff_request())

    def get_cookie_path(self, app: Flask) -> str:
        return self._path(app, is_staff_request())

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return self._samesite(app, is_staff_request())

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        return self._expires(app, session, is_staff_request())

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Flask's own steps, with the request's kind (reader or staff) decided once, the
        ``Vary`` header edited as text, and the cookie written without the response's
        proxied look-ups: every reader's first visit sets one."""
        if not session:
            if session.accessed or session.modified:
                super().save_session(app, session, response)
            return
        if self.should_set_cookie(app, session):
            serializer = self.get_signing_serializer(app)
            assert serializer is not None  # a session was opened, so the app has a key
            staff = is_staff_request()
            cookie = dump_cookie(
                self._name(app, staff),
                serializer.dumps(dict(session)),
                expires=self._expires(app, session, staff),
                path=self._path(app, staff),
                domain=self.get_cookie_domain(app),
                secure=self.get_cookie_secure(app),
                httponly=self.get_cookie_httponly(app),
                samesite=self._samesite(app, staff),
                partitioned=self.get_cookie_partitioned(app),
                max_size=app.config["MAX_COOKIE_SIZE"],
            )
            response.headers.add("Set-Cookie", cookie)
        elif not session.accessed:
            return
        add_vary(response, "Cookie")

    def open_session(self, app: Flask, incoming: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        if "HTTP_COOKIE" not in incoming.environ:
            return self.session_class()  # a first visit: no cookies to parse
        if not is_staff_request():
            return super().open_session(app, incoming)
        value = incoming.cookies.get(STAFF_COOKIE)
        if not value:
            return self.session_class()
        try:
            data = serializer.loads(value, max_age=int(STAFF_SESSION_LIFETIME.total_seconds()))
        except BadSignature:  # expired, or signed under a key no longer kept: start afresh
            return self.session_class()
        return self.session_class(data)


def add_vary(response: Response, *names: str) -> None:
    """Add header names to ``Vary`` as werkzeug's ``response.vary.add`` does (each once,
    comma-separated, in order added), by editing the header's text in one pass over the
    headers: parsing it into a set and writing it back cost more than the rest of a
    reader's session."""
    headers = response.headers
    current = next((value for key, value in headers if key.lower() == "vary"), None)
    if not current:
        if current is not None:
            del headers["Vary"]
        headers.add("Vary", ", ".join(dict.fromkeys(names)))
        return
    present = {part.strip().lower() for part in current.split(",")}
    missing = [name for name in dict.fromkeys(names) if name.lower() not in present]
    if missing:
        headers["Vary"] = ", ".join([current, *missing])


def csrf_token() -> str:
    """This request's CSRF token, as Flask-WTF's ``generate_csrf`` makes it (and
    ``validate_csrf`` checks it): the session's random value, signed with a timestamp
    under ``WTF_CSRF_SECRET_KEY``. Shared with the forms of the same request through
    ``g``, as Flask-WTF does."""
    token: str | None = g.get(CSRF_FIELD)
    if token is None:
        raw = session.get(CSRF_FIELD)
        if not isinstance(raw, str):
            raw = session[CSRF_FIELD] = secrets.token_hex(20)  # as long as Flask-WTF's
        token = _csrf_serializer().dumps(raw)
        setattr(g, CSRF_FIELD, token)
    return token


def _csrf_serializer() -> CookieSerializer:
    app = current_app
    serializer: CookieSerializer | None = app.extensions.get("membership.csrf_serializer")
    if serializer is None:
        keys = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key  # as Flask-WTF reads it
        serializer = CookieSerializer(keys, salt=CSRF_SALT, serializer=_CompactJSON)
        app.extensions["membership.csrf_serializer"] = serializer
    return serializer


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
