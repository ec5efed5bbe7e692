"""Fixtures for supporters' accounts: supporters and their gifts made directly in the
ledger's tables, the SMTP sink, and a browser signed in through the real emailed link."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient

from membership.account import sender
from membership.extensions import db
from membership.ledger.models import Payment, RecurringSupport, Supporter
from tests import stripe_events as se
from tests.fake_stripe import FakeStripe
from tests.reminders.conftest import SmtpSink, smtp, with_smtp  # noqa: F401  (fixtures)

NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_supporter(app: Flask) -> Callable[..., int]:
    """Factory: a supporter (and a customer id), as the ledger records one; its id."""

    def make(email: str = "reader@example.org", customer: str | None = "cus_reader") -> int:
        with app.app_context():
            supporter = Supporter(email=email, stripe_customer_id=customer)
            db.session.add(supporter)
            db.session.commit()
            return int(supporter.id)

    return make


@pytest.fixture
def make_gift(app: Flask) -> Callable[..., int]:
    """Factory: a payment of a supporter's; its id."""

    def make(supporter_id: int, amount_minor: int = 2500, **values: Any) -> int:
        with app.app_context():
            payment = Payment(
                supporter_id=supporter_id,
                stripe_payment_intent_id=values.pop("pi", f"pi_{amount_minor}_{supporter_id}"),
                amount_minor=amount_minor,
                currency=values.pop("currency", "USD"),
                frequency=values.pop("frequency", "once"),
                paid_at=values.pop("paid_at", NOON),
                **values,
            )
            db.session.add(payment)
            db.session.commit()
            return int(payment.id)

    return make


@pytest.fixture
def make_recurring(app: Flask) -> Callable[..., int]:
    """Factory: a monthly gift of a supporter's, under a customer; its id."""

    def make(supporter_id: int, customer: str, subscription: str, **values: Any) -> int:
        with app.app_context():
            recurring = RecurringSupport(
                supporter_id=supporter_id,
                stripe_customer_id=customer,
                stripe_subscription_id=subscription,
                frequency=values.pop("frequency", "monthly"),
                amount_minor=values.pop("amount_minor", 500),
                currency=values.pop("currency", "USD"),
                status=values.pop("status", "active"),
                started_at=NOON,
                status_as_of=values.pop("status_as_of", NOON),
                **values,
            )
            db.session.add(recurring)
            db.session.commit()
            return int(recurring.id)

    return make


def page_csrf(client: FlaskClient, path: str = "/account") -> str:
    """The CSRF token a browser would read from the page."""
    if has_app_context():  # as tests/conftest.py's from_dashboard explains
        g.pop("csrf_token", None)
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


def ask_for_link(client: FlaskClient, email: str, **environ: str) -> Any:
    data = {"csrf_token": page_csrf(client), "email": email}
    return client.post("/account/sign-in", data=data, environ_base=environ)


def send_links(app: Flask, sink: SmtpSink) -> sender.SendReport:
    """Run the sender once, to the SMTP sink."""
    settings = with_smtp(app.extensions["membership.settings"], sink.url)
    return sender.send_queued_links(settings, app.config["SECRET_KEY"])


def link_in(message: EmailMessage) -> str:
    """The sign-in link's path, from the email's text part."""
    part = message.get_body(("plain",))
    assert part is not None
    match = re.search(r"http://support\.test(/account/sign-in/\S+)", part.get_content())
    assert match, "the email has no sign-in link"
    return match.group(1)


def sign_in(app: Flask, client: FlaskClient, sink: SmtpSink, email: str) -> Any:
    """Sign in as a browser does: ask, receive the email, open the link, press the button."""
    assert ask_for_link(client, email).status_code == 200
    with app.app_context():
        send_links(app, sink)
    path = link_in(sink.messages_to(email)[-1])
    data = {"csrf_token": page_csrf(client, path)}
    return client.post(path, data=data)


@pytest.fixture
def signed_in(app: Flask, smtp: SmtpSink) -> Callable[[str], FlaskClient]:  # noqa: F811
    """Factory: a new browser, signed in as the supporter with this email."""

    def make(email: str) -> FlaskClient:
        client = app.test_client()
        with app.app_context():
            response = sign_in(app, client, smtp, email)
        assert response.status_code == 303
        return client

    return make


@pytest.fixture
def clock_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[datetime], None]]:
    """Set the app's clock (``membership.clock.now``) to a moment."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr("membership.clock.now", lambda: moment)

    yield set_to


# -- the ledger as Stripe says -------------------------------------------------------------


def ledger(app: Flask, recurring_id: int) -> dict[str, Any]:
    with app.app_context():
        row = db.session.get(RecurringSupport, recurring_id)
        assert row is not None
        return {
            "amount_minor": row.amount_minor,
            "currency": row.currency,
            "frequency": row.frequency,
            "status": row.status,
            "cancel_at_period_end": row.cancel_at_period_end,
            "collection_paused": row.collection_paused,
            "collection_resumes_at": row.collection_resumes_at,
        }


def as_stripe_says(subscription: dict[str, Any]) -> dict[str, Any]:
    """What the ledger should hold of a subscription, read from Stripe's object."""
    price = subscription["items"]["data"][0]["price"]
    pause = subscription["pause_collection"]
    resumes_at = pause and pause["resumes_at"]
    return {
        "amount_minor": price["unit_amount"],
        "currency": price["currency"].upper(),
        "frequency": {"month": "monthly", "year": "annual"}[price["recurring"]["interval"]],
        "status": subscription["status"],
        "cancel_at_period_end": subscription["cancel_at_period_end"],
        "collection_paused": pause is not None,
        "collection_resumes_at": datetime.fromtimestamp(resumes_at, UTC) if resumes_at else None,
    }


def deliver_emitted(app: Flask, stripe: FakeStripe) -> None:
    """Stripe's webhooks for what it did, through the signed route."""
    client = app.test_client()
    for event in stripe.events:
        assert se.deliver(client, event).status_code == 200
    stripe.events.clear()
