"""The footer's Continue (``POST /embed/checkout``): straight to Stripe Checkout, from the
article origins only, validated and rate limited as the support page's Continue.

The gateway talks real HTTP to the suite's fake Stripe on loopback, so these tests see
the Checkout Session's parameters exactly as Stripe would receive them.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership import create_app
from membership.extensions import db, limiter
from membership.models import CheckoutAttempt
from tests.conftest import app_environ, post_checkout
from tests.embed.conftest import (
    ARTICLE,
    ARTICLE_ORIGIN,
    OTHER_ARTICLE_ORIGIN,
    OWN_ORIGIN,
    continue_json,
)
from tests.fake_stripe import FakeStripe


def attempts(app: Flask) -> list[CheckoutAttempt]:
    with app.app_context():
        stored = list(db.session.scalars(select(CheckoutAttempt)))
        db.session.expunge_all()
        return stored


def price_of(call: Any) -> dict[str, Any]:
    [item] = call.params["line_items"]
    price: dict[str, Any] = item["price_data"]
    return price


@pytest.mark.parametrize(
    ("frequency", "chosen", "mode", "unit_amount", "interval"),
    [
        ("monthly", {"amount_monthly": "10"}, "subscription", "1000", "month"),
        ("annual", {"amount_annual": "50"}, "subscription", "5000", "year"),
        ("once", {"amount_once": "25"}, "payment", "2500", None),
        (
            "annual",
            {"amount_annual": "50", "custom_amount": "75.50"},
            "subscription",
            "7550",
            "year",
        ),
    ],
    ids=["monthly", "annual", "once", "typed-amount-wins"],
)
def test_continue_from_an_article_returns_the_checkout_address_for_the_chosen_gift(
    embed_app: Flask,
    reader: FlaskClient,
    stripe: FakeStripe,
    frequency: str,
    chosen: dict[str, str],
    mode: str,
    unit_amount: str,
    interval: str | None,
) -> None:
    # The footer sends every group's preset; only the chosen frequency's counts.
    others = {"amount_once": "10", "amount_monthly": "2", "amount_annual": "25"}
    response = continue_json(reader, frequency=frequency, currency="EUR", **{**others, **chosen})

    assert response.status_code == 200, response.get_json()
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    [attempt] = attempts(embed_app)
    assert response.get_json() == {
        "status": "ok",
        "url": stripe.sessions[attempt.stripe_session_id]["url"],
    }
    assert call.params["mode"] == mode
    price = price_of(call)
    assert (price["currency"], price["unit_amount"]) == ("eur", unit_amount)
    assert price.get("recurring") == ({"interval": interval} if interval else None)
    assert (attempt.frequency, attempt.currency, str(attempt.amount_minor)) == (
        frequency,
        "EUR",
        unit_amount,
    )
    assert attempt.source == ARTICLE
    assert response.headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert response.headers["Cache-Control"] == "no-store"


def test_continue_in_russian_opens_checkout_in_russian(
    reader: FlaskClient, stripe: FakeStripe
) -> None:
    """The footer's language (``data-lang``) is kept through Checkout (Stripe's ``locale``)."""
    response = continue_json(reader, lang="ru")
    assert response.status_code == 200
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["locale"] == "ru"
    # ... and the thank-you page Stripe sends the reader back to speaks it too.
    assert "lang=ru" in call.params["success_url"]


def test_continue_in_english_leaves_checkout_to_the_default(
    reader: FlaskClient, stripe: FakeStripe
) -> None:
    assert continue_json(reader, lang="en").status_code == 200
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params.get("locale") in (None, "en")


def test_every_configured_article_origin_is_accepted(
    reader: FlaskClient, stripe: FakeStripe
) -> None:
    assert continue_json(reader, origin=OTHER_ARTICLE_ORIGIN).status_code == 200
    assert continue_json(reader, origin=OTHER_ARTICLE_ORIGIN.upper() + "/").status_code == 200


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("https://evil.example", "not from https://evil.example"),
        ("https://news.example.org.evil.example", "article pages only"),
        ("http://news.example.org", "article pages only"),  # not the https origin named
        (OWN_ORIGIN, "article pages only"),  # the script runs on article pages, never ours
        ("null", "does not say which page"),  # a sandboxed frame, a file:// page
        (None, "does not say which page"),
    ],
    ids=["other-site", "look-alike", "other-scheme", "own-origin-json", "null", "missing"],
)
def test_continue_from_anywhere_else_is_refused_with_a_reason_and_opens_nothing(
    embed_app: Flask, reader: FlaskClient, stripe: FakeStripe, origin: str | None, reason: str
) -> None:
    response = continue_json(reader, origin=origin)

    assert response.status_code == 403
    body = response.get_json()
    assert body["status"] == "refused" and reason in body["message"]
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stripe.calls("POST", "/v1/checkout/sessions") == []
    assert attempts(embed_app) == []


def test_the_browser_may_send_continue_from_an_article_page_only(reader: FlaskClient) -> None:
    """The CORS preflight of footer.js's JSON POST: answered for the article origins."""
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = reader.options("/embed/checkout", headers={"Origin": ARTICLE_ORIGIN, **preflight})
    refused = reader.options(
        "/embed/checkout", headers={"Origin": "https://evil.example", **preflight}
    )

    assert allowed.headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers  # no cookie needed
    assert "Access-Control-Allow-Origin" not in refused.headers


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"amount_monthly": "1"}, "amount", "The smallest amount is"),
        ({"custom_amount": "20000"}, "amount", "The largest amount we take online is"),
        ({"custom_amount": "ten"}, "amount", ""),
        ({"frequency": "weekly"}, "frequency", "Choose Once, Monthly or Annual."),
        ({"currency": "XXX"}, "currency", "Choose one of the currencies we accept"),
        ({"amount_monthly": ""}, "amount", "Choose an amount or enter your own."),
        ({"custom_amount": "9" * 40}, "custom_amount", "Enter an amount"),
    ],
    ids=["too-small", "too-large", "not-a-number", "frequency", "currency", "none", "too-long"],
)
def test_a_choice_the_support_page_refuses_is_refused_alike_and_stores_nothing(
    embed_app: Flask,
    reader: FlaskClient,
    stripe: FakeStripe,
    body: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = continue_json(reader, **body)

    assert response.status_code == 400
    answer = response.get_json()
    assert answer["status"] == "invalid"
    assert field in answer["errors"] and message in answer["errors"][field]
    assert answer["message"]
    assert stripe.calls("POST", "/v1/checkout/sessions") == []
    assert attempts(embed_app) == []


@pytest.mark.parametrize(
    "body", ["[1, 2]", '"monthly"', "null", "{"], ids=["list", "string", "null", "broken"]
)
def test_json_that_is_not_an_object_is_a_clear_400(
    reader: FlaskClient, stripe: FakeStripe, body: str
) -> None:
    response = reader.post(
        "/embed/checkout",
        data=body,
        content_type="application/json",
        headers={"Origin": ARTICLE_ORIGIN},
    )
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["message"]
    assert stripe.calls("POST", "/v1/checkout/sessions") == []


def test_continue_shares_the_support_pages_rate_limit(
    embed_app: Flask,
    reader: FlaskClient,
    stripe: FakeStripe,
    checkout_limit: Any,
) -> None:
    """One allowance per client address for both Continues: the footer adds no second one."""
    checkout_limit("3 per minute")
    on_support_page = [
        post_checkout(reader, frequency="once", currency="USD", amount="10").status_code
        for _ in range(2)
    ]
    from_footer = [continue_json(reader).status_code for _ in range(2)]
    refused = continue_json(reader)

    assert on_support_page == [303, 303]
    assert from_footer == [200, 429]
    assert refused.status_code == 429
    assert refused.get_json()["status"] == "rate_limited"
    assert refused.headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN  # readable
    assert len(stripe.calls("POST", "/v1/checkout/sessions")) == 3
    assert len(attempts(embed_app)) == 3


def test_rate_limit_counts_per_client_address(
    reader: FlaskClient, stripe: FakeStripe, checkout_limit: Any
) -> None:
    checkout_limit("1 per minute")
    first = continue_json(reader)
    second = continue_json(reader)
    elsewhere = reader.post(
        "/embed/checkout",
        json={"frequency": "monthly", "currency": "USD", "amount_monthly": "5"},
        headers={"Origin": ARTICLE_ORIGIN},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert [first.status_code, second.status_code, elsewhere.status_code] == [200, 429, 200]


def test_stripe_outage_is_a_502_to_try_again_and_stores_nothing(
    embed_app: Flask, reader: FlaskClient, stripe: FakeStripe
) -> None:
    stripe.fail_with = 500
    response = continue_json(reader)
    assert response.status_code == 502
    assert response.get_json()["status"] == "unavailable"
    assert "Nothing was charged" in response.get_json()["message"]
    assert attempts(embed_app) == []


def test_without_stripe_keys_continue_says_payments_are_not_set_up(
    app: Flask, database_url: str
) -> None:
    """Development without STRIPE_SECRET_KEY: the choice was valid, nothing can be taken."""
    development = create_app(app_environ(database_url, CORS_ALLOWED_ORIGINS=ARTICLE_ORIGIN))
    try:
        response = continue_json(development.test_client())
    finally:
        limiter.init_app(app)
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert "not set up" in response.get_json()["message"]
    assert attempts(development) == []
