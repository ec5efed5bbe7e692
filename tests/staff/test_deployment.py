"""Staff sign-in behind proxies and with shared rate-limit storage."""

from __future__ import annotations

from membership import create_app
from membership.extensions import limiter
from membership.staff import service
from tests.conftest import app_environ, csrf_token, post_checkout, sign_in


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
    app, database_url, staff_user, failures
) -> None:
    person = staff_user()
    # Nothing listens on port 9: sign-in goes on, and the failures still count.
    down = create_app(app_environ(database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9"))
    try:
        assert sign_in(down.test_client(), person.email, person.password).status_code == 302
        for _ in range(service.LOCK_AFTER_FAILURES):
            assert sign_in(down.test_client(), person.email, "wrong password!").status_code == 401
        assert failures(person.id)[1] is not None
    finally:
        limiter.init_app(app)  # the limiter keeps one storage: give the suite's back


def test_with_the_store_down_limits_count_in_the_process_and_say_so(
    app, database_url, caplog
) -> None:
    """A store that is down used to turn every limit off in silence: 100 of 100 Continues
    from one address opened a Checkout Session. Now the limits count in the process."""
    down = create_app(
        app_environ(
            database_url,
            RATELIMIT_STORAGE_URI="redis://127.0.0.1:9",
            CHECKOUT_LIMIT_PER_IP="5 per minute",
        )
    )
    try:
        client = down.test_client()
        statuses = [
            post_checkout(client, frequency="once", amount="10").status_code for _ in range(7)
        ]
        assert statuses[:5] == [503] * 5  # no Stripe key here: "how to set one", nothing opened
        assert statuses[5:] == [429, 429]
        token = csrf_token(client, "/staff/login")
        data = {"csrf_token": token, "email": "nobody@newsroom.test", "password": "wrong password!"}
        signs = [client.post("/staff/login", data=data).status_code for _ in range(11)]
        assert signs == [401] * 10 + [429]
        cannot = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert len(cannot) == 1 and cannot[0].levelname == "ERROR"
    finally:
        limiter.init_app(app)
