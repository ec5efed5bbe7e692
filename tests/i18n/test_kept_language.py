"""The reader's language kept through the journey: the reminder email in the language the
reader asked in, with links that keep asking for it."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.config import Settings
from membership.extensions import db
from membership.reminders import sender
from membership.reminders.models import Reminder
from tests.reminders.conftest import SmtpSink, due_moment
from tests.reminders.test_sending import links_in


def ask_for_a_reminder(client: FlaskClient, email: str, **how: object) -> Reminder:
    """POST /remind-me as the footer does (JSON), then the reminder as stored."""
    query = how.pop("query", "")
    headers = how.pop("headers", {})
    body = {"email": email, "when": "1w", "frequency": "monthly", "amount": "5", **how}
    response = client.post(f"/remind-me{query}", json=body, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    reminder = db.session.scalar(select(Reminder).where(Reminder.email == email))
    assert reminder is not None
    return reminder


@pytest.mark.parametrize(
    ("how", "language"),
    [
        ({"lang": "ru"}, "ru"),
        ({"query": "?lang=ru"}, "ru"),
        ({"headers": {"Accept-Language": "ru-RU,ru;q=0.9"}}, "ru"),
        ({"lang": "ru-RU"}, "ru"),
        ({}, "en"),
        ({"lang": "de"}, "en"),
    ],
    ids=["footer-lang", "query-lang", "accept-language", "regional-tag", "default", "unserved"],
)
def test_a_reminder_keeps_the_language_it_was_asked_in(
    app_ctx: None, client: FlaskClient, how: dict[str, object], language: str
) -> None:
    assert ask_for_a_reminder(client, "reader@example.org", **how).language == language


def sent_to(smtp: SmtpSink, address: str) -> EmailMessage:
    (message,) = smtp.messages_to(address)
    return message


def test_the_reminder_email_is_written_in_the_readers_language(
    app: Flask, app_ctx: None, client: FlaskClient, settings: Settings, smtp: SmtpSink
) -> None:
    russian = ask_for_a_reminder(client, "ru@example.org", lang="ru", currency="EUR")
    english = ask_for_a_reminder(client, "en@example.org", currency="EUR")
    assert sender.send_due_reminders(settings, now=due_moment(russian)).sent == 2

    message = sent_to(smtp, "ru@example.org")
    assert message["Subject"] == "Напоминание: поддержите независимую журналистику"
    support, cancel = links_in(message)
    assert parse_qs(urlsplit(support).query)["lang"] == ["ru"]
    assert parse_qs(urlsplit(cancel).query)["lang"] == ["ru"]
    page = client.get(urlsplit(cancel).path + "?" + urlsplit(cancel).query)
    assert '<html lang="ru">' in page.get_data(as_text=True)

    message = sent_to(smtp, english.email or "")
    assert message["Subject"] == "Your reminder: support independent journalism"
    support, cancel = links_in(message)
    assert "lang" not in parse_qs(urlsplit(support).query)
    assert urlsplit(cancel).query == ""
