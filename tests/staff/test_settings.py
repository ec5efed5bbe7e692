"""STAFF_REQUIRE_TOTP, RATELIMIT_STORAGE_URI (with WEB_CONCURRENCY) and STAFF_SUPPORTER_LIMIT
are read once and checked at start-up."""

from __future__ import annotations

import pytest

from membership.config import ConfigError, load_settings

BASE = {"APP_ENV": "testing", "SECRET_KEY": "k" * 40}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", False),
        ("false", False),
        ("0", False),
        ("no", False),
        ("true", True),
        ("1", True),
        (" Yes ", True),
        ("on", True),
    ],
    ids=["unset", "false", "zero", "no", "true", "one", "yes-spaced", "on"],
)
def test_staff_require_totp_reads_a_flag(raw, expected) -> None:
    assert load_settings({**BASE, "STAFF_REQUIRE_TOTP": raw}).staff_require_totp is expected


def test_staff_require_totp_is_off_by_default() -> None:
    assert load_settings(BASE).staff_require_totp is False


@pytest.mark.parametrize("raw", ["maybe", "2", "required"], ids=["maybe", "two", "word"])
def test_staff_require_totp_refuses_other_values(raw) -> None:
    with pytest.raises(ConfigError, match="STAFF_REQUIRE_TOTP must be true or false"):
        load_settings({**BASE, "STAFF_REQUIRE_TOTP": raw})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", "memory://"), ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379")],
    ids=["default-memory", "redis"],
)
def test_ratelimit_storage_uri(raw, expected) -> None:
    assert load_settings({**BASE, "RATELIMIT_STORAGE_URI": raw}).ratelimit_storage_uri == expected


def test_ratelimit_storage_uri_must_be_a_uri() -> None:
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI must be a storage URI"):
        load_settings({**BASE, "RATELIMIT_STORAGE_URI": "127.0.0.1:6379"})


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 0), ("0", 0), ("1", 1), ("2", 2)], ids=["unset", "0", "1", "2"]
)
def test_trusted_proxy_hops(raw, expected) -> None:
    assert load_settings({**BASE, "TRUSTED_PROXY_HOPS": raw}).trusted_proxy_hops == expected


@pytest.mark.parametrize("raw", ["-1", "one", "9"], ids=["negative", "word", "too-many"])
def test_trusted_proxy_hops_refuses_other_values(raw) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS must be the number"):
        load_settings({**BASE, "TRUSTED_PROXY_HOPS": raw})


PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_BASE_URL": "https://support.example.org",
    "STRIPE_SECRET_KEY": "sk_test_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}


@pytest.mark.parametrize(
    ("environ", "allowed"),
    [
        ({}, True),
        ({"WEB_CONCURRENCY": "1"}, True),
        ({"WEB_CONCURRENCY": "4"}, False),
        ({"WEB_CONCURRENCY": "4", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}, True),
        ({"WEB_CONCURRENCY": "4", "APP_ENV": "development"}, True),
    ],
    ids=["one-worker-by-default", "one-worker", "four-workers", "four-on-redis", "development"],
)
def test_production_refuses_per_process_limits_with_several_workers(environ, allowed) -> None:
    """With memory:// each worker counts on its own: four workers, four times the limits."""
    environ = {**PRODUCTION, **environ}
    if allowed:
        assert load_settings(environ).ratelimit_storage_uri
    else:
        with pytest.raises(ConfigError, match="WEB_CONCURRENCY is 4.*redis://"):
            load_settings(environ)


@pytest.mark.parametrize("raw", ["0", "four", "-2"], ids=["zero", "word", "negative"])
def test_web_concurrency_is_a_number_of_workers(raw) -> None:
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY must be the number of web workers"):
        load_settings({**BASE, "WEB_CONCURRENCY": raw})


def test_staff_supporter_limit() -> None:
    assert load_settings(BASE).staff_supporter_limit == "60 per hour;300 per day"
    assert load_settings({**BASE, "STAFF_SUPPORTER_LIMIT": "5 per hour"}).staff_supporter_limit
    with pytest.raises(ConfigError, match="STAFF_SUPPORTER_LIMIT must be rate limits"):
        load_settings({**BASE, "STAFF_SUPPORTER_LIMIT": "lots"})
