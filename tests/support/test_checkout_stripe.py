"""Continue opens a Stripe Checkout Session with exactly the right parameters.

The gateway talks real HTTP to a Stripe-compatible fake on loopback, so these
tests see the parameters exactly as Stripe would receive them.
"""

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.extensions import db
from membership.models import CheckoutAttempt
from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe

ATTRIBUTION = {
    "source": "https://news.example/2026/11/story",
    "utm_source": "site",
    "utm_medium": "article-footer",
    "utm_campaign": "winter",
    "utm_content": "variant-b",
}


def the_attempt(app: Flask) -> CheckoutAttempt:
    with app.app_context():
        attempts = db.session.scalars(select(CheckoutAttempt)).all()
        assert len(attempts) == 1
        db.session.expunge_all()
        return attempts[0]


def test_once_opens_a_payment_session_marked_donate(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    response = post_checkout(
        client,
        frequency="once",
        currency="EUR",
        amount="25",
        email=" Reader@Example.org ",
        **ATTRIBUTION,
    )

    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    attempt = the_attempt(app)
    # Only what the webhooks need: Stripe never learns the article, campaign or reminder.
    metadata = {"attempt_id": attempt.id, "frequency": "once"}
    assert call.params == {
        "mode": "payment",
        "submit_type": "donate",
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": "2500",
                    "product": "membership_once",
                },
                "quantity": "1",
            }
        ],
        "client_reference_id": attempt.id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "customer_email": "Reader@Example.org",
        "success_url": "http://support.test/support/thank-you?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": f"http://support.test/support/cancelled?attempt={attempt.id}",
        "locale": "en",  # the reader's language (tests/i18n: Russian readers get "ru")
    }
    assert call.headers["Idempotency-Key"] == f"checkout-{attempt.id}"
    assert call.headers["Stripe-Version"] == "2026-10-28.endive"
    assert response.status_code == 303
    assert response.location == stripe.sessions[attempt.stripe_session_id]["url"]


@pytest.mark.parametrize(("frequency", "interval"), [("monthly", "month"), ("annual", "year")])
def test_recurring_opens_a_subscription_session(
    app: Flask, client: FlaskClient, stripe: FakeStripe, frequency: str, interval: str
) -> None:
    response = post_checkout(client, frequency=frequency, currency="USD", amount="10")

    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    attempt = the_attempt(app)
    metadata = {"attempt_id": attempt.id, "frequency": frequency}
    assert call.params == {
        "mode": "subscription",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": "1000",
                    "product": f"membership_{frequency}",
                    "recurring": {"interval": interval},
                },
                "quantity": "1",
            }
        ],
        "client_reference_id": attempt.id,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
        "success_url": "http://support.test/support/thank-you?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": f"http://support.test/support/cancelled?attempt={attempt.id}",
        "locale": "en",  # the reader's language (tests/i18n: Russian readers get "ru")
    }
    assert "customer_email" not in call.params and "submit_type" not in call.params
    assert response.status_code == 303


def test_attempt_is_stored_with_amount_attribution_and_session(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    post_checkout(
        client,
        frequency="monthly",
        currency="GBP",
        amount="5",
        custom_amount="7.50",
        email="reader@example.org",
        **ATTRIBUTION,
    )
    attempt = the_attempt(app)
    assert (attempt.frequency, attempt.amount_minor, attempt.currency) == ("monthly", 750, "GBP")
    assert attempt.source == ATTRIBUTION["source"]
    assert (attempt.utm_source, attempt.utm_medium, attempt.utm_campaign, attempt.utm_content) == (
        "site",
        "article-footer",
        "winter",
        "variant-b",
    )
    assert attempt.stripe_session_id in stripe.sessions
    assert attempt.status == "open"
    assert attempt.created_at.tzinfo is not None and attempt.created_at.utcoffset().seconds == 0


def test_the_source_is_kept_as_the_page_without_the_readers_query(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    """A newsletter's link names the reader (``?email=``, list ids): never kept, never sent."""
    source = "https://News.example/2026/11/story?email=reader%40example.org&mc_eid=ab1#comments"
    post_checkout(client, frequency="once", currency="USD", amount="10", source=source)
    attempt = the_attempt(app)
    assert attempt.source == "https://news.example/2026/11/story"
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert "reader" not in str(call.params) and "mc_eid" not in str(call.params)


def test_zero_decimal_currency_sends_whole_units(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    post_checkout(client, frequency="once", currency="JPY", custom_amount="3000")
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["line_items"][0]["price_data"]["unit_amount"] == "3000"
    assert the_attempt(app).amount_minor == 3000


def test_product_per_frequency_is_created_once_then_reused(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    stripe.products.pop("membership_annual", None)
    from membership import stripe_gateway

    stripe_gateway._products.clear()

    post_checkout(client, frequency="annual", amount="50")
    post_checkout(client, frequency="annual", amount="25")

    created = stripe.calls("POST", "/v1/products")
    assert [c.params["id"] for c in created] == ["membership_annual"]
    assert created[0].params["name"] == "Annual support"
    assert len(stripe.calls("POST", "/v1/checkout/sessions")) == 2


def test_stripe_failure_shows_try_again_and_stores_nothing(
    app: Flask, client: FlaskClient, stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    stripe.fail_with, stripe.fail_path = 500, "/v1/checkout/sessions"
    with caplog.at_level(logging.INFO):
        response = post_checkout(
            client, frequency="once", amount="25", email="private.person@example.org"
        )
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "Nothing was charged" in page and "try again" in page
    assert "/support?frequency=once&amp;currency=USD&amp;amount=25" in page
    with app.app_context():
        assert db.session.scalars(select(CheckoutAttempt)).all() == []
    assert "stripe checkout session create failed" in caplog.text
    assert "private.person" not in caplog.text


def test_dev_mode_explains_how_to_set_stripe_keys(dev_app: Flask) -> None:
    client = dev_app.test_client()
    assert client.get("/support").status_code == 200
    assert client.get("/support/cancelled?frequency=once").status_code == 200
    response = post_checkout(client, frequency="monthly", amount="5")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "STRIPE_SECRET_KEY=sk_test_" in page
    assert "Traceback" not in page
    thank_you = client.get("/support/thank-you?session_id=cs_test_abc")
    assert thank_you.status_code == 503
    assert "STRIPE_SECRET_KEY" in thank_you.get_data(as_text=True)
    with dev_app.app_context():
        assert db.session.scalars(select(CheckoutAttempt)).all() == []
