"""Configuration is read once from the environment and fails early with a sentence."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from membership import create_app
from membership.config import ConfigError, load_settings
from tests.conftest import PRODUCTION_ENVIRON, _test_database_url


def test_production_refuses_to_start_without_secret_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(
            {
                "APP_ENV": "production",
                "PUBLIC_BASE_URL": "https://s.example.org",
                "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            }
        )


def test_production_is_the_default_environment() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"PUBLIC_BASE_URL": "https://s.example.org"})


def test_production_requires_public_base_url() -> None:
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        load_settings({"APP_ENV": "production", "SECRET_KEY": "k" * 40})


PRODUCTION_STRIPE = {"STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}


def test_production_refuses_to_start_without_stripe_keys() -> None:
    base = {
        "APP_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "PUBLIC_BASE_URL": "https://s.example.org",
    }
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET"):
        load_settings(base)
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        load_settings({**base, "STRIPE_SECRET_KEY": "sk_live_x"})
    assert load_settings({**base, **PRODUCTION_STRIPE}).stripe_enabled


def test_production_cookies_are_secure(tmp_path) -> None:
    app = create_app(
        {
            **PRODUCTION_STRIPE,
            "APP_ENV": "production",
            "SECRET_KEY": "k" * 40,
            "PUBLIC_BASE_URL": "https://s.example.org",
            "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_keeps_one_generated_secret_key(tmp_path) -> None:
    first = load_settings({"APP_ENV": "development"}, instance_path=str(tmp_path))
    second = load_settings({"APP_ENV": "development"}, instance_path=str(tmp_path))
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert first.database_url == f"sqlite:///{tmp_path / 'membership.sqlite3'}"


def test_defaults_match_the_readme(tmp_path) -> None:
    settings = load_settings({"APP_ENV": "development"}, instance_path=str(tmp_path))
    assert settings.currencies == ("USD", "EUR", "GBP")
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert not settings.stripe_enabled
    monthly = settings.amount_rule("monthly", "USD")
    assert monthly.presets == (200, 500, 1000)
    assert (monthly.minimum, monthly.maximum) == (200, 1_000_000)
    assert settings.amount_rule("annual", "EUR").presets == (2500, 5000, 10000)
    assert settings.amount_rule("once", "GBP").presets == (1000, 2500, 5000)


def test_amounts_can_be_set_per_frequency_and_currency(tmp_path) -> None:
    settings = load_settings(
        {
            "APP_ENV": "development",
            "SUPPORT_CURRENCIES": "usd, eur",
            "SUPPORT_AMOUNTS": '{"monthly": {"presets": [3, 6.5, 12], "min": 3},'
            ' "monthly:EUR": {"max": 500}}',
        },
        instance_path=str(tmp_path),
    )
    assert settings.currencies == ("USD", "EUR")
    assert settings.amount_rule("monthly", "USD").presets == (300, 650, 1200)
    assert settings.amount_rule("monthly", "USD").maximum == 1_000_000
    assert settings.amount_rule("monthly", "EUR").minimum == 300
    assert settings.amount_rule("monthly", "EUR").maximum == 50000
    assert settings.amount_rule("once", "USD").minimum == 200


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"SUPPORT_CURRENCIES": "US"}, "ISO 4217"),
        ({"SUPPORT_CURRENCIES": " , "}, "at least one currency"),
        ({"SUPPORT_AMOUNTS": "{not json"}, "not valid JSON"),
        ({"SUPPORT_AMOUNTS": '{"weekly": {}}'}, "must be a frequency"),
        ({"SUPPORT_AMOUNTS": '{"monthly:CHF": {}}'}, "enabled currency"),
        ({"SUPPORT_AMOUNTS": '{"monthly": {"min": 20, "max": 10}}'}, "min is above max"),
        ({"SUPPORT_AMOUNTS": '{"monthly": {"presets": [1]}}'}, "between min and max"),
        ({"SUPPORT_AMOUNTS": '{"monthly": {"presets": ["x"]}}'}, "numbers in major units"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"CHECKOUT_LIMIT_PER_IP": "lots"}, "CHECKOUT_LIMIT_PER_IP must be rate limits"),
    ],
)
def test_malformed_settings_fail_with_a_sentence(tmp_path, variables, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"APP_ENV": "development", **variables}, instance_path=str(tmp_path))


def test_minimum_never_below_what_stripe_accepts(tmp_path) -> None:
    settings = load_settings(
        {
            "APP_ENV": "development",
            "SUPPORT_CURRENCIES": "JPY",
            "SUPPORT_AMOUNTS": '{"once": {"presets": [500], "min": 1},'
            ' "monthly": {"presets": [500]}, "annual": {"presets": [5000]}}',
        },
        instance_path=str(tmp_path),
    )
    assert settings.amount_rule("once", "JPY").minimum == 50


def test_default_presets_below_stripe_minimum_are_refused(tmp_path) -> None:
    # ¥2/¥5/¥10 a month cannot be charged: a JPY install must set its own amounts.
    with pytest.raises(ConfigError, match="JPY: every preset must lie between"):
        load_settings(
            {"APP_ENV": "development", "SUPPORT_CURRENCIES": "JPY"}, instance_path=str(tmp_path)
        )


def test_production_refuses_a_plain_http_public_base_url() -> None:
    with pytest.raises(ConfigError, match="https://"):
        load_settings({**PRODUCTION_ENVIRON, "PUBLIC_BASE_URL": "http://support.example.org"})


def test_production_requires_a_second_factor_unless_told_otherwise() -> None:
    assert load_settings(PRODUCTION_ENVIRON).staff_require_totp is True
    opted_out = {**PRODUCTION_ENVIRON, "STAFF_REQUIRE_TOTP": "false"}
    assert load_settings(opted_out).staff_require_totp is False
    assert load_settings({"APP_ENV": "development"}).staff_require_totp is False


def test_the_suite_never_runs_on_the_apps_own_database() -> None:
    """The suite empties the database it runs on: TEST_DATABASE_URL, however it is
    written, may not name the app's DATABASE_URL."""
    same = {
        "TEST_DATABASE_URL": "postgres://app@db.example/membership",
        "DATABASE_URL": "postgresql://app@db.example/membership",
    }
    with pytest.raises(pytest.UsageError, match="kept for tests"):
        _test_database_url(same)
    # The same server written another way is no longer the same text: the name decides.
    other_spelling = {**same, "TEST_DATABASE_URL": "postgresql://app@db.example:5432/membership"}
    with pytest.raises(pytest.UsageError, match="'test' in its name"):
        _test_database_url(other_spelling)
    kept = {**same, "TEST_DATABASE_URL": "postgresql://app@db.example/membership_test"}
    assert _test_database_url(kept) == "postgresql+psycopg://app@db.example/membership_test"
    assert _test_database_url({"DATABASE_URL": same["DATABASE_URL"]}) == ""  # SQLite, then


def test_production_by_default_says_how_to_run_locally() -> None:
    """APP_ENV unset means production: a new checkout's first command says why it stops."""
    with pytest.raises(ConfigError, match="APP_ENV is not set.*APP_ENV=development"):
        load_settings({})
    with pytest.raises(ConfigError) as named:
        load_settings({"APP_ENV": "production"})
    assert "APP_ENV" not in str(named.value)  # chosen on purpose: the rule alone


def test_a_flask_command_with_a_setting_missing_prints_one_line(tmp_path) -> None:
    """No traceback to read through: the sentence that says what to set, and a failure."""
    project = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "PUBLIC_BASE_URL"}}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", str(project / "wsgi.py"), "routes"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "PUBLIC_BASE_URL" in lines[0] and "APP_ENV=development" in lines[0]


def test_gunicorn_tells_the_app_how_many_workers_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's server starts a worker per core: the app must see that count, so that
    per-process rate limits are refused in production whenever several workers serve."""
    import runpy

    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    config = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    assert os.environ["WEB_CONCURRENCY"] == str(config["workers"])
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert (
        runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))["workers"]
        == 3
    )
