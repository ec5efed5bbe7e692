"""Every email this app sends opens with the publication's name and ends with its signature."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from membership import create_app, i18n
from membership.account.sender import sign_in_mail
from membership.config import current_settings
from membership.mail import Mail
from membership.newsletter import settings as newsletter_settings
from membership.newsletter.sender import Claimed as ClaimedSignup
from membership.newsletter.sender import confirmation_mail
from membership.reminders.sender import Claimed as ClaimedReminder
from membership.reminders.sender import reminder_mail
from tests.conftest import app_environ


@pytest.fixture
def branded(database_url: str) -> Iterator[Flask]:
    """An app named and addressed as a newsroom would, in a worker's app context."""
    app = create_app(
        app_environ(
            database_url,
            PUBLICATION_NAME="The Free Ledger",
            PUBLICATION_SITE_URL="https://ledger.example",
            PRIVACY_POLICY_URL="https://ledger.example/privacy",
        )
    )
    with app.app_context():
        yield app


def _reminder() -> Mail:
    claimed = ClaimedReminder(1, "t" * 32, "r@example.org", "monthly", 500, "USD", None, 0)
    return reminder_mail(current_settings(), claimed)


def _sign_in() -> Mail:
    return sign_in_mail(current_settings(), "r@example.org", "s" * 32)


def _newsletter() -> Mail:
    claimed = ClaimedSignup(1, "r@example.org", "Yes, email me.", 0, "c" * 32, "u" * 32)
    return confirmation_mail(current_settings(), newsletter_settings.current(), claimed)


@pytest.mark.parametrize(
    "build", [_reminder, _sign_in, _newsletter], ids=["reminder", "sign-in", "newsletter"]
)
def test_every_email_carries_the_publication_and_its_signature(
    branded: Flask, build: object
) -> None:
    mail = build()  # type: ignore[operator]
    assert mail.text.startswith("The Free Ledger\nhttps://ledger.example\n")
    assert "\n-- \nThe editors of The Free Ledger\n" in mail.text
    assert "Privacy policy: https://ledger.example/privacy" in mail.text
    assert (
        '<a href="https://ledger.example" style="color: #1a1a1a; text-decoration: none;">'
        "The Free Ledger</a></p>" in mail.html
    )
    assert '<p style="margin-top: 1.5em;">The editors of The Free Ledger</p>' in mail.html
    assert '<a href="https://ledger.example/privacy">Privacy policy</a>' in mail.html


def test_an_email_is_signed_in_the_language_it_is_rendered_in(branded: Flask) -> None:
    """Senders render a reader's email in ``force_locale(their language)``."""
    templates = branded.jinja_env
    with i18n.force_locale("ru"):
        text = templates.get_template("identity/email_signature.txt").render()
        html = templates.get_template("identity/email_signature.html").render()
    assert text.startswith("\n-- \nРедакция The Free Ledger\n")
    assert '<a href="https://ledger.example/privacy">Политика конфиденциальности</a>' in html
    assert '<p style="margin-top: 1.5em;">Редакция The Free Ledger</p>' in html
