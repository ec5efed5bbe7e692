"""Staff sign-in behind proxies and with shared rate-limit storage."""

from __future__ import annotations

from membership import create_app
from membership.extensions import limiter
from membership.staff import service
from tests.conftest import app_environ, sign_in


def test_client_address_comes_from_our_proxy_only_when_configured(
    app, database_url, staff_user, audit_entries
) -> None:
    person = staff_user()
    forwarded = {"X-Forwarded-For": "203.0.113.9"}

    direct = app.test_client()
    direct.get("/staff/login")
    sign_in(direct, person.email, person.password, headers=forwarded)
    proxied_app = create_app(app_environ(database_url, TRUSTED_PROXY_HOPS="1"))
    sign_in(proxied_app.test_client(), person.email, person.password, headers=forwarded)

    addresses = [e.remote_addr for e in audit_entries("sign_in")]
    assert addresses == ["127.0.0.1", "203.0.113.9"]  # a direct request cannot claim one


def test_sign_in_still_works_when_the_rate_limit_store_is_down(
    app, database_url, staff_user
) -> None:
    person = staff_user()
    # Nothing listens on port 9: sign-in goes on, and the account lockout still counts.
    down = create_app(app_environ(database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9"))
    try:
        assert sign_in(down.test_client(), person.email, person.password).status_code == 302
        for _ in range(service.LOCK_AFTER_FAILURES):
            assert sign_in(down.test_client(), person.email, "wrong password!").status_code == 401
        with app.app_context():
            assert service.find_staff(person.email).locked_until is not None
    finally:
        limiter.init_app(app)  # the limiter keeps one storage: give the suite's back
