"""Fixtures for the newsletter: the reminders' real SMTP server on loopback, settings that
send through it and record a privacy policy, sign-ups as a browser or widget makes them,
and the links read back out of the email received."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership.config import Settings
from membership.newsletter import sender
from membership.newsletter.settings import EXTENSION, NewsletterSettings
from tests.reminders.conftest import (  # noqa: F401 - fixtures shared with reminders
    SmtpSink,
    fresh_rate_limits,
    smtp,
    with_smtp,
)

PRIVACY_URL = "https://news.example.org/privacy"
NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
_ip = iter(range(1, 1 << 24))


@pytest.fixture
def settings(app: Flask, smtp: SmtpSink) -> Settings:  # noqa: F811
    """The app's settings, sending through the test's SMTP server."""
    return with_smtp(app.extensions["membership.settings"], smtp.url)


@pytest.fixture
def newsletter_settings(app: Flask) -> Iterator[NewsletterSettings]:
    """A privacy policy and a publication name in force for this test (the app's otherwise
    have neither)."""
    original = app.extensions[EXTENSION]
    chosen = dataclasses.replace(
        original,
        privacy_policy_url=PRIVACY_URL,
        publication_name="The Free Ledger",
        languages=("en", "es"),
    )
    app.extensions[EXTENSION] = chosen
    yield chosen
    app.extensions[EXTENSION] = original


def a_new_client_address() -> dict[str, str]:
    """Each request from its own client address, so the per-IP limit stays out of the way."""
    number = next(_ip)
    return {"REMOTE_ADDR": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"}


def sign_up(client: FlaskClient, email: str = "reader@example.org", **fields: Any) -> Any:
    """``POST /newsletter`` as an article's widget makes it (JSON), consenting."""
    body = {"email": email, "consent": True, **fields}
    return client.post("/newsletter", json=body, environ_base=a_new_client_address())


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/newsletter").get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the sign-up page has no CSRF token"
    return match.group(1)


def sign_up_by_form(client: FlaskClient, email: str = "reader@example.org", **fields: Any) -> Any:
    """The sign-up page's form, as a browser posts it (ticked box, CSRF token)."""
    data = {"csrf_token": csrf_of(client), "email": email, "consent": "yes", **fields}
    return client.post("/newsletter", data=data, environ_base=a_new_client_address())


@pytest.fixture
def send(settings: Settings, app: Flask) -> Callable[..., sender.SendReport]:
    """Run the sender as the worker does (needs an app context)."""

    def run(**options: Any) -> sender.SendReport:
        return sender.send_due_confirmations(settings, app.extensions[EXTENSION], **options)

    return run


def links_of(message: EmailMessage) -> tuple[str, str]:
    """The confirmation and unsubscribe tokens, read from the plain-text part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    (confirm,) = re.findall(r"/newsletter/confirm/([\w-]+)", text)
    (unsubscribe,) = re.findall(r"/newsletter/unsubscribe/([\w-]+)", text)
    return confirm, unsubscribe
