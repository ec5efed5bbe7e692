"""The confirmation email over real SMTP: once, retried like reminders, honest, no tracking,
one-click unsubscribe in its headers, and only hashes of its tokens kept."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from membership import clock, create_app
from membership.config import Settings
from membership.extensions import db
from membership.mail import Mailer
from membership.newsletter import sender, service
from membership.newsletter.models import Subscriber
from membership.newsletter.settings import EXTENSION, NewsletterSettings
from tests.conftest import app_environ
from tests.newsletter.conftest import PRIVACY_URL, SmtpSink, links_of, sign_up, with_smtp


def subscriber() -> Subscriber:
    db.session.rollback()
    row = db.session.scalar(select(Subscriber))
    assert row is not None
    return row


def test_one_confirmation_email_is_sent_once(
    client: FlaskClient,
    app_ctx: None,
    send: Callable[..., Any],
    smtp: SmtpSink,
    newsletter_settings: NewsletterSettings,
) -> None:
    sign_up(client)
    first = send()
    assert (first.due, first.sent) == (1, 1)
    second = send()
    assert (second.due, second.sent) == (0, 0)
    (message,) = smtp.messages_to("reader@example.org")
    assert message["Subject"] == "Confirm your subscription to the newsletter of The Free Ledger"
    assert (subscriber().mail_status, subscriber().mail_attempts) == ("sent", 1)


def test_every_email_carries_one_click_unsubscribe_headers(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    sign_up(client)
    send()
    (message,) = smtp.received
    _, unsubscribe = links_of(message)
    assert message["List-Unsubscribe"] == (
        f"<http://support.test/newsletter/unsubscribe/{unsubscribe}>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"


def test_the_email_says_how_the_address_came_to_us_and_carries_no_tracking(
    client: FlaskClient,
    app_ctx: None,
    send: Callable[..., Any],
    smtp: SmtpSink,
    newsletter_settings: NewsletterSettings,
) -> None:
    sign_up(client)
    send()
    (message,) = smtp.received
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None
        body = " ".join(part.get_content().split())
        assert "Someone, probably you, typed this address into the newsletter sign-up on" in body
        assert "support.test" in body
        assert "ignore this email" in body and "keeping nothing" in body
        assert "erase it within 7 days" in body
        assert "no tracking" in body
        assert PRIVACY_URL in body  # the consent agreed to, word for word
        assert "<img" not in body and "utm_" not in body
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    # Every link goes straight to this app: no redirector, no pixel.
    targets = re.findall(r'href="([^"]+)"', html.get_content())
    assert targets and all(t.startswith("http://support.test/newsletter/") for t in targets)


def test_only_hashes_of_the_tokens_are_stored(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    sign_up(client)
    send()
    confirm, unsubscribe = links_of(smtp.received[0])
    row = subscriber()
    assert row.confirm_token_hash == service.token_hash(confirm)
    assert row.unsubscribe_token_hash == service.token_hash(unsubscribe)
    dump = " ".join(
        str(value)
        for value in db.session.execute(text("SELECT * FROM newsletter_subscribers")).one()
    )
    assert confirm not in dump and unsubscribe not in dump


def test_temporary_refusal_backs_off_then_sends(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    sign_up(client)
    smtp.refuse = lambda message: "451 try again later"
    now = clock.now()
    assert send(now=now).retrying == 1
    row = subscriber()
    assert (row.mail_status, row.mail_attempts) == ("queued", 1)
    assert row.next_attempt_at == now + timedelta(minutes=5)
    assert send(now=now + timedelta(minutes=1)).due == 0  # not before the back-off
    smtp.refuse = None
    assert send(now=now + timedelta(minutes=6)).sent == 1
    (message,) = smtp.received
    confirm, _ = links_of(message)
    assert subscriber().confirm_token_hash == service.token_hash(confirm)  # the sent one works


def test_permanent_refusal_fails_at_once_and_is_erased_with_the_rest(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    sign_up(client)
    smtp.refuse = lambda message: "550 no such user here"
    assert send().failed == 1
    row = subscriber()
    assert (row.mail_status, row.status) == ("failed", "pending")
    assert row.last_error and "reader@example.org" not in row.last_error
    assert service.erase_unconfirmed(now=clock.now() + timedelta(days=7, seconds=1)) == 1


def test_attempts_are_bounded(
    client: FlaskClient, app_ctx: None, settings: Settings, app: Flask, smtp: SmtpSink
) -> None:
    sign_up(client)
    smtp.refuse = lambda message: "451 later"
    bounded = with_smtp(settings, smtp.url, max_attempts=2)
    now = clock.now()
    newsletter = app.extensions[EXTENSION]
    assert sender.send_due_confirmations(bounded, newsletter, now=now).retrying == 1
    later = now + timedelta(hours=1)
    assert sender.send_due_confirmations(bounded, newsletter, now=later).failed == 1
    assert subscriber().mail_status == "failed"


def test_an_unreachable_mail_server_gives_the_attempt_back(
    client: FlaskClient, app_ctx: None, settings: Settings, app: Flask
) -> None:
    sign_up(client)
    down = with_smtp(settings, "smtp://127.0.0.1:9")  # nothing listens on the discard port
    report = sender.send_due_confirmations(down, app.extensions[EXTENSION])
    assert report.errors and report.sent == 0
    row = subscriber()
    assert (row.mail_status, row.mail_attempts, row.claimed_by) == ("queued", 0, None)


def test_a_dead_workers_claim_is_taken_again_after_the_timeout(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], settings: Settings
) -> None:
    sign_up(client)
    now = clock.now()
    sender._claim(settings, now, "dead", 10)  # a worker claims it, then dies before sending
    assert send(now=now + timedelta(minutes=1)).due == 0
    assert send(now=now + timedelta(hours=1)).sent == 1


def test_a_sign_up_erased_after_its_claim_is_not_sent(
    client: FlaskClient, app_ctx: None, app: Flask, smtp: SmtpSink, settings: Settings
) -> None:
    sign_up(client)
    now = clock.now()
    (claimed,) = sender._claim(settings, now, "me", 10)
    _, unsubscribe = sender.links(settings, claimed)
    assert client.post(unsubscribe.removeprefix("http://support.test")).status_code == 200
    report = sender.SendReport()
    newsletter = app.extensions[EXTENSION]
    with Mailer(smtp.url, "x@localhost") as mailer:
        sender._send_one(settings, newsletter, mailer, claimed, now, "me", report)
    assert report.skipped == 1 and smtp.received == []


def test_without_smtp_url_the_email_goes_to_the_log_without_address_or_tokens(
    client: FlaskClient, app_ctx: None, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    sign_up(client)
    caplog.set_level(logging.INFO, logger="membership.mail")
    settings = with_smtp(app.extensions["membership.settings"], None)
    assert sender.send_due_confirmations(settings, app.extensions[EXTENSION]).sent == 1
    assert "r***@example.org" in caplog.text and "reader@example.org" not in caplog.text
    assert "/newsletter/confirm/[redacted]" in caplog.text
    assert "/newsletter/unsubscribe/[redacted]" in caplog.text


def test_production_refuses_to_send_without_smtp_url(app: Flask) -> None:
    settings = with_smtp(app.extensions["membership.settings"], None)
    production = type(settings)(**{**settings.__dict__, "env": "production"})
    with app.app_context(), pytest.raises(sender.MailNotConfigured):
        sender.send_due_confirmations(production, app.extensions[EXTENSION])


def test_flask_newsletter_send_erases_then_sends(
    app: Flask, database_url: str, smtp: SmtpSink
) -> None:
    cli_app = create_app(
        app_environ(database_url, SMTP_URL=smtp.url, MAIL_FROM="News <news@news.example>")
    )
    with cli_app.test_client() as client, cli_app.app_context():
        assert sign_up(client).status_code == 202
    result = cli_app.test_cli_runner().invoke(args=["newsletter", "send", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output and "erased 0" in result.output
    (message,) = smtp.received
    assert message["From"] == "News <news@news.example>"
    assert message["Message-ID"].endswith("@news.example>")
