"""STAFF_REQUIRE_TOTP and RATELIMIT_STORAGE_URI are read once and checked at start-up."""

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
