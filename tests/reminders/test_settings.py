"""Reminder settings are read once at start-up; a malformed one stops the app with a sentence."""

from __future__ import annotations

import pytest

from membership.config import ConfigError, load_settings

BASE = {"APP_ENV": "testing", "SECRET_KEY": "k" * 40}


def test_defaults() -> None:
    reminders = load_settings(BASE).reminders
    assert reminders.smtp_url is None
    assert reminders.mail_from == "reminders@localhost"
    assert reminders.retention_days == 30
    assert reminders.cors_allowed_origins == ()


def test_values_are_read_and_normalised() -> None:
    reminders = load_settings(
        {
            **BASE,
            "SMTP_URL": "smtps://user:p%40ss@mail.example.org:465",
            "MAIL_FROM": "Newsroom <support@news.example>",
            "REMINDER_RETENTION_DAYS": "7",
            "REMINDER_MAX_ATTEMPTS": "3",
            "REMINDER_CLAIM_TIMEOUT_SECONDS": "120",
            "CORS_ALLOWED_ORIGINS": "https://News.Example/, https://blog.news.example",
            "REMINDER_SIGNUP_LIMIT_PER_IP": "5 per minute",
            "REMINDER_SIGNUP_LIMIT_PER_EMAIL": "2/hour;4 per day",
        }
    ).reminders
    assert reminders.smtp_url == "smtps://user:p%40ss@mail.example.org:465"
    assert reminders.retention_days == 7
    assert (reminders.max_attempts, reminders.claim_timeout_seconds) == (3, 120)
    assert reminders.cors_allowed_origins == ("https://news.example", "https://blog.news.example")
    assert reminders.signup_limit_per_email == "2/hour;4 per day"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SMTP_URL": "http://mail.example.org"}, "SMTP_URL must look like"),
        ({"SMTP_URL": "smtp://"}, "SMTP_URL must look like"),
        ({"SMTP_URL": "smtp://mail.example.org:abc"}, "port that is not a number"),
        ({"MAIL_FROM": "newsroom"}, "MAIL_FROM must be an email address"),
        ({"REMINDER_RETENTION_DAYS": "0"}, "REMINDER_RETENTION_DAYS must be a whole number"),
        ({"REMINDER_RETENTION_DAYS": "thirty"}, "REMINDER_RETENTION_DAYS must be a whole number"),
        ({"REMINDER_MAX_ATTEMPTS": "-1"}, "REMINDER_MAX_ATTEMPTS must be a whole number"),
        ({"CORS_ALLOWED_ORIGINS": "news.example"}, "CORS_ALLOWED_ORIGINS entries must be"),
        ({"CORS_ALLOWED_ORIGINS": "https://news.example/articles"}, "no path"),
        ({"RATELIMIT_STORAGE_URI": "localhost:6379"}, "RATELIMIT_STORAGE_URI must be"),
        ({"REMINDER_SIGNUP_LIMIT_PER_IP": "lots"}, "REMINDER_SIGNUP_LIMIT_PER_IP must be"),
        ({"REMINDER_SIGNUP_LIMIT_PER_EMAIL": "3 per fortnight"}, "PER_EMAIL must be"),
    ],
    ids=[
        "smtp-wrong-scheme",
        "smtp-no-host",
        "smtp-bad-port",
        "mail-from-not-an-address",
        "retention-zero",
        "retention-word",
        "attempts-negative",
        "origin-without-scheme",
        "origin-with-path",
        "ratelimit-storage-not-a-uri",
        "ip-limit-word",
        "email-limit-unknown-period",
    ],
)
def test_malformed_settings_stop_the_app_with_a_sentence(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({**BASE, **environ})


def test_production_with_smtp_needs_mail_from() -> None:
    production = {
        "APP_ENV": "production",
        "SECRET_KEY": "k" * 40,
        "PUBLIC_BASE_URL": "https://support.example.org",
        "STRIPE_SECRET_KEY": "sk_live_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "SMTP_URL": "smtp://mail.example.org:587",
    }
    with pytest.raises(ConfigError, match="Set MAIL_FROM"):
        load_settings(production)
    assert load_settings({**production, "MAIL_FROM": "s@news.example"}).reminders.smtp_url
