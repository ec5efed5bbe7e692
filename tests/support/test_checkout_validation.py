"""Bad input re-renders the form with a message per field and 400, and stores nothing."""

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.extensions import db
from membership.models import CheckoutAttempt
from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe

VALID = {"frequency": "monthly", "currency": "USD", "amount": "5"}


def attempts_stored(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CheckoutAttempt)) or 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"custom_amount": "ten"}, "Enter an amount as a number", id="malformed"),
        pytest.param({"custom_amount": "1,2.3.4"}, "Enter an amount as a number", id="two-dots"),
        pytest.param({"custom_amount": "1e3"}, "Enter an amount as a number", id="exponent"),
        pytest.param({"custom_amount": "-5"}, "Enter an amount as a number", id="negative"),
        pytest.param({"custom_amount": "0"}, "greater than zero", id="zero"),
        pytest.param(
            {"custom_amount": "5.555"}, "at most 2 decimal places", id="too-many-decimals"
        ),
        pytest.param(
            {"currency": "JPY", "custom_amount": "500.5"}, "whole numbers", id="jpy-decimals"
        ),
        pytest.param({"custom_amount": "1.99"}, "The smallest amount is $2.", id="below-min"),
        pytest.param(
            {"custom_amount": "10000.01"},
            "The largest amount we take online is $10,000.",
            id="above-max",
        ),
        pytest.param(
            {"currency": "JPY", "custom_amount": "299"},
            "The smallest amount is ¥300",
            id="below-min-jpy",
        ),
        pytest.param({"amount": "", "custom_amount": ""}, "Choose an amount", id="no-amount"),
        pytest.param({"currency": "CHF"}, "Choose one of the currencies we accept", id="currency"),
        pytest.param({"frequency": "weekly"}, "Choose Once, Monthly or Annual", id="frequency"),
        pytest.param({"email": "not-an-email"}, "Enter a valid email address", id="email"),
        pytest.param({"custom_amount": "1" * (1024 * 1024)}, "Enter an amount", id="1MB-field"),
        pytest.param(
            {"email": "a" * (1024 * 1024) + "@example.org"},
            "at most 254 characters",
            id="1MB-email",
        ),
    ],
)
def test_invalid_choice_is_refused_with_a_message(
    app: Flask, client: FlaskClient, stripe: FakeStripe, fields: dict[str, str], message: str
) -> None:
    response = post_checkout(client, **{**VALID, **fields})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'role="alert"' in page  # the error summary is announced
    assert attempts_stored(app) == 0
    assert stripe.calls("POST", "/v1/checkout/sessions") == []


def test_typed_amount_is_kept_when_the_form_comes_back(
    client: FlaskClient, stripe: FakeStripe
) -> None:
    page = post_checkout(client, **VALID, custom_amount="1.99").get_data(as_text=True)
    assert 'value="1.99"' in page
    assert 'aria-invalid="true"' in page


def test_missing_csrf_token_is_refused_and_nothing_stored(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    response = client.post("/support/checkout", data=VALID)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert attempts_stored(app) == 0
    assert stripe.requests == []


def test_forged_csrf_token_is_refused(app: Flask, client: FlaskClient, stripe: FakeStripe) -> None:
    client.get("/support")
    response = client.post("/support/checkout", data={**VALID, "csrf_token": "forged"})
    assert response.status_code == 400
    assert attempts_stored(app) == 0


def test_body_over_the_request_limit_gets_413(app: Flask, client: FlaskClient) -> None:
    response = client.post("/support/checkout", data={**VALID, "source": "x" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too much to send" in response.get_data(as_text=True)
    assert attempts_stored(app) == 0


def test_checkouts_are_rate_limited_per_client_address(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    """Each Continue opens a Stripe session: past the limit, nothing is opened or stored."""
    as_configured = app.extensions["membership.settings"]
    app.extensions["membership.settings"] = dataclasses.replace(
        as_configured, checkout_limit_per_ip="2 per minute"
    )
    try:
        answers = [
            post_checkout(client, frequency="once", currency="USD", amount="10").status_code
            for _ in range(3)
        ]
        refused = post_checkout(client, frequency="once", currency="USD", amount="10")
    finally:
        app.extensions["membership.settings"] = as_configured
    assert answers == [303, 303, 429]
    assert refused.status_code == 429
    assert "Too many requests" in refused.get_data(as_text=True)
    assert len(stripe.calls("POST", "/v1/checkout/sessions")) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CheckoutAttempt)) == 2


def test_overlong_attribution_from_an_article_link_is_dropped_or_cut_and_the_gift_goes_on(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    """Attribution rides in hidden fields the reader can neither see nor fix: refused,
    it refused the gift on every try. A tag too long for a campaign's is dropped, a page
    cut to what is kept, instead."""
    campaign = "spring-appeal-" + "x" * 240
    page = "https://news.example/" + "p" * 600
    response = post_checkout(client, **VALID, utm_campaign=campaign, source=page, reminder="r" * 99)
    assert response.status_code == 303
    with app.app_context():
        attempt = db.session.scalars(select(CheckoutAttempt)).one()
        assert (attempt.utm_campaign, attempt.source) == (None, page[:500])
        assert attempt.reminder_id is None  # not a reminder's token: ignored


def test_attribution_that_names_the_reader_is_not_kept_with_the_gift(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    """A newsletter's link puts the reader's address in utm_content and an id in the
    path: neither reaches the attempt, Stripe's metadata, payments or exports."""
    response = post_checkout(
        client,
        **VALID,
        utm_source="newsletter",
        utm_content="reader@example.org",
        utm_campaign="3f9a1c2b4d5e6f708192a3b4c5d6e7f8",
        source="https://news.example/u/reader%40example.org/story",
    )
    assert response.status_code == 303
    with app.app_context():
        attempt = db.session.scalars(select(CheckoutAttempt)).one()
        kept = (attempt.utm_source, attempt.utm_content, attempt.utm_campaign, attempt.source)
    assert kept == ("newsletter", None, None, "https://news.example/u/story")
    (call,) = stripe.calls("POST", "/v1/checkout/sessions")
    assert "example.org" not in repr(call) and "3f9a1c2b" not in repr(call)
