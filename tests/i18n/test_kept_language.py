"""The reader's language kept through the journey: Checkout (Stripe's locale), the thank-you
page, the reminder email in the language the reader asked in, with links that keep asking
for it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.account import sender as account_sender
from membership.config import Settings
from membership.extensions import db
from membership.models import CheckoutAttempt
from membership.newsletter import sender as newsletter_sender
from membership.newsletter.settings import EXTENSION as NEWSLETTER
from membership.newsletter.settings import NewsletterSettings
from membership.reminders import sender
from membership.reminders.models import Reminder
from tests.conftest import csrf_token, post_checkout
from tests.fake_stripe import FakeStripe
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
    text = body_of(message)
    assert "Вы думали о ежемесячном пожертвовании в размере 5,00\xa0€." in text
    assert "Спасибо, что читаете нас." in text and "Thank you" not in text
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


def test_checkout_and_thanks_speak_the_readers_language(
    app_ctx: None, client: FlaskClient, stripe: FakeStripe
) -> None:
    """From the Russian page to Stripe (its locale) and back to the thank-you page: the
    amount typed the Russian way, the attempt keeping the language for the receipts."""
    response = post_checkout(
        client, frequency="monthly", currency="EUR", custom_amount="5,50", lang="ru"
    )
    assert response.status_code == 303
    session_id = response.location.rsplit("/", 1)[1]
    sent = stripe.created_with[session_id]
    assert sent["locale"] == "ru"
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "550"
    assert parse_qs(urlsplit(sent["success_url"]).query)["lang"] == ["ru"]
    assert parse_qs(urlsplit(sent["cancel_url"]).query)["lang"] == ["ru"]
    attempt = db.session.scalar(
        select(CheckoutAttempt).where(CheckoutAttempt.stripe_session_id == session_id)
    )
    assert attempt is not None and attempt.language == "ru"

    stripe.complete_session(session_id)
    back = urlsplit(sent["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
    page = client.get(f"{back.path}?{back.query}").get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Спасибо за ежемесячную поддержку в размере 5,50\xa0€." in page


@pytest.mark.parametrize(
    ("headers", "locale"),
    [({"Accept-Language": "ru"}, "ru"), ({}, "en")],
    ids=["russian-browser", "default"],
)
def test_checkout_is_opened_in_the_language_of_the_page(
    app_ctx: None, client: FlaskClient, stripe: FakeStripe, headers: dict[str, str], locale: str
) -> None:
    token = csrf_token(client)
    form = {"csrf_token": token, "frequency": "once", "currency": "USD", "amount": "10"}
    response = client.post("/support/checkout", data=form, headers=headers)
    assert response.status_code == 303
    session_id = response.location.rsplit("/", 1)[1]
    assert stripe.created_with[session_id]["locale"] == locale
    asked = parse_qs(urlsplit(stripe.created_with[session_id]["success_url"]).query)
    assert asked.get("lang") == (None if locale == "en" else [locale])


@pytest.fixture
def newsletter_in_russian(app: Flask) -> Iterator[NewsletterSettings]:
    """The newsletter offered in English and Russian, with a publication name."""
    original = app.extensions[NEWSLETTER]
    app.extensions[NEWSLETTER] = dataclasses.replace(
        original, languages=("en", "ru"), publication_name="Новая редакция"
    )
    yield app.extensions[NEWSLETTER]
    app.extensions[NEWSLETTER] = original


def test_the_newsletter_confirmation_is_written_in_the_sign_ups_language(
    app_ctx: None,
    client: FlaskClient,
    settings: Settings,
    smtp: SmtpSink,
    newsletter_in_russian: NewsletterSettings,
) -> None:
    for email, lang in (("ru@example.org", "ru"), ("en@example.org", "en")):
        body = {"email": email, "consent": True, "lang": lang}
        assert client.post("/newsletter", json=body).status_code == 202
    report = newsletter_sender.send_due_confirmations(settings, newsletter_in_russian)
    assert report.sent == 2

    message = sent_to(smtp, "ru@example.org")
    assert message["Subject"] == "Подтвердите подписку на рассылку Новая редакция"
    text = body_of(message)
    assert "Чтобы получать рассылку Новая редакция, подтвердите, что это ваш адрес:" in text
    assert "Да, присылайте мне рассылку Новая редакция." in text  # the consent, as shown
    (confirm,) = re.findall(r"http://support\.test(/newsletter/confirm/\S+)", text)
    assert confirm.endswith("?lang=ru")
    page = client.get(confirm).get_data(as_text=True)
    assert "Вы подписаны" in page

    message = sent_to(smtp, "en@example.org")
    assert message["Subject"] == "Confirm your subscription to the newsletter of Новая редакция"
    assert "?lang=" not in body_of(message)


def test_the_sign_in_link_is_written_in_the_language_the_supporter_gave_in(
    app: Flask, app_ctx: None
) -> None:
    settings = app.extensions["membership.settings"]
    russian = account_sender.sign_in_mail(settings, "ru@example.org", "t" * 43, "ru")
    assert russian.subject == "Ваша ссылка для входа"
    assert "Чтобы войти, откройте эту ссылку" in russian.text
    assert "/account/sign-in/" + "t" * 43 + "?lang=ru" in russian.text
    english = account_sender.sign_in_mail(settings, "en@example.org", "t" * 43, None)
    assert english.subject == "Your sign-in link"
    assert "?lang=" not in english.text


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
