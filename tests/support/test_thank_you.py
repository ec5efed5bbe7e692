"""The thank-you page says only what Stripe confirmed; the cancel page offers a retry."""

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe


def open_session(client: FlaskClient, stripe: FakeStripe, **choice: str) -> str:
    response = post_checkout(client, **choice)
    assert response.status_code == 303
    return response.location.rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("choice", "thanks"),
    [
        ({"frequency": "monthly", "amount": "5"}, "your monthly support of $5"),
        (
            {"frequency": "annual", "currency": "EUR", "amount": "50"},
            "your annual support of €50",
        ),
        (
            {"frequency": "once", "currency": "JPY", "amount": "3000"},
            "your one-time support of ¥3,000",
        ),
    ],
)
def test_paid_session_thanks_for_exactly_what_was_confirmed(
    client: FlaskClient, stripe: FakeStripe, choice: dict[str, str], thanks: str
) -> None:
    session_id = open_session(client, stripe, **{"currency": "USD", **choice})
    stripe.complete_session(session_id)
    page = client.get(f"/support/thank-you?session_id={session_id}").get_data(as_text=True)
    assert f"Thank you for {thanks}." in page


@pytest.mark.parametrize("paid", [True, False], ids=["paid", "being-confirmed"])
def test_the_thank_you_page_is_never_cached(
    client: FlaskClient, stripe: FakeStripe, paid: bool
) -> None:
    """It states the gift: a shared computer's back button or a proxy must not keep it."""
    session_id = open_session(client, stripe, frequency="monthly", currency="USD", amount="5")
    if paid:
        stripe.complete_session(session_id)
    response = client.get(f"/support/thank-you?session_id={session_id}")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_thanks_use_stripes_amount_not_the_form(client: FlaskClient, stripe: FakeStripe) -> None:
    session_id = open_session(client, stripe, frequency="monthly", currency="USD", amount="5")
    stripe.sessions[session_id]["amount_total"] = 700  # e.g. a promotion applied at Stripe
    stripe.complete_session(session_id)
    page = client.get(f"/support/thank-you?session_id={session_id}").get_data(as_text=True)
    assert "monthly support of $7." in page


@pytest.mark.parametrize(
    ("status", "payment_status"),
    [("open", "unpaid"), ("complete", "unpaid"), ("expired", "unpaid")],
)
def test_unpaid_session_says_payment_is_being_confirmed(
    client: FlaskClient, stripe: FakeStripe, status: str, payment_status: str
) -> None:
    session_id = open_session(client, stripe, frequency="once", currency="USD", amount="25")
    stripe.sessions[session_id].update(status=status, payment_status=payment_status)
    response = client.get(f"/support/thank-you?session_id={session_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "being confirmed" in page
    assert "support of" not in page


@pytest.mark.parametrize(
    "session_id",
    [
        "",
        "nonsense",
        "cs_test_",
        "cs_test_abc/../../v1/customers",
        "pi_123",
        "cs_test_" + "a" * 300,
    ],
)
def test_malformed_session_id_is_404_without_asking_stripe(
    client: FlaskClient, stripe: FakeStripe, session_id: str
) -> None:
    response = client.get("/support/thank-you", query_string={"session_id": session_id})
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert stripe.requests == []


def test_session_not_opened_here_is_404_without_asking_stripe(
    client: FlaskClient, stripe: FakeStripe
) -> None:
    response = client.get("/support/thank-you?session_id=cs_test_doesnotexist")
    assert response.status_code == 404
    assert stripe.calls("GET", "/v1/checkout/sessions/") == []


def test_session_unknown_to_stripe_is_404(client: FlaskClient, stripe: FakeStripe) -> None:
    session_id = open_session(client, stripe, frequency="once", currency="USD", amount="25")
    del stripe.sessions[session_id]
    response = client.get(f"/support/thank-you?session_id={session_id}")
    assert response.status_code == 404
    assert len(stripe.calls("GET", "/v1/checkout/sessions/")) == 1


def test_stripe_outage_on_thank_you_is_a_calm_502(client: FlaskClient, stripe: FakeStripe) -> None:
    session_id = open_session(client, stripe, frequency="once", currency="USD", amount="25")
    stripe.fail_with = 500
    response = client.get(f"/support/thank-you?session_id={session_id}")
    assert response.status_code == 502
    assert "Nothing was charged" in response.get_data(as_text=True)


def test_cancelled_page_offers_the_same_choices(client: FlaskClient, stripe: FakeStripe) -> None:
    response = post_checkout(
        client,
        frequency="annual",
        currency="EUR",
        custom_amount="42",
        source="https://news.example/a",
    )
    session_id = response.location.rsplit("/", 1)[1]
    cancel_url = stripe.sessions[session_id]["cancel_url"].removeprefix("http://support.test")

    page = client.get(cancel_url).get_data(as_text=True)
    assert "No payment was taken" in page
    assert re.search(r'aria-current="page">Annual<', page)
    assert 'name="currency" value="EUR"' in page
    assert re.search(r'id="custom_amount"[^>]*value="42"', page)
    assert 'name="source" value="https://news.example/a"' in page


@pytest.mark.parametrize("attempt", ["", "not-an-id", "0" * 32])
def test_cancelled_page_without_a_known_attempt_is_the_blank_page(
    client: FlaskClient, attempt: str
) -> None:
    response = client.get(f"/support/cancelled?attempt={attempt}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "No payment was taken" in page
    assert 'name="source"' not in page and 'name="reminder"' not in page


def test_a_cancel_link_gives_its_choices_to_the_browser_that_opened_it_only(
    client: FlaskClient, app: Flask, stripe: FakeStripe
) -> None:
    """The link passes through Stripe: whoever else holds it learns nothing of the reader."""
    response = post_checkout(
        client, frequency="annual", currency="EUR", amount="10", source="https://news.example/a"
    )
    session_id = response.location.rsplit("/", 1)[1]
    cancel_url = stripe.sessions[session_id]["cancel_url"].removeprefix("http://support.test")
    assert 'name="source" value="https://news.example/a"' in client.get(cancel_url).get_data(
        as_text=True
    )
    elsewhere = app.test_client().get(cancel_url)
    assert elsewhere.status_code == 200
    assert 'name="source"' not in elsewhere.get_data(as_text=True)
    assert elsewhere.headers["Cache-Control"] == "no-store, private"
