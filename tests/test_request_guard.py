"""A NUL character is refused wherever it comes in, before anything is stored or opened
(``membership.web.request_guard``); PostgreSQL could not have stored it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.extensions import db
from membership.models import CheckoutAttempt
from membership.reminders.models import Reminder
from tests.conftest import csrf_token, post_checkout
from tests.fake_stripe import FakeStripe


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_gift_with_a_nul_opens_no_checkout_and_stores_nothing(
    app: Flask, client: FlaskClient, stripe: FakeStripe
) -> None:
    """It used to open a Stripe Checkout Session, then fail to store the attempt (500)."""
    response = post_checkout(
        client, frequency="once", currency="USD", amount="25", utm_campaign="spring\x00"
    )
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert stripe.calls("POST", "/v1/checkout/sessions") == []
    assert count(app, CheckoutAttempt) == 0


def test_a_reminder_sign_up_with_a_nul_is_refused_as_json_or_as_a_form(
    app: Flask, client: FlaskClient
) -> None:
    sent = {"email": "reader@example.org", "when": "1m", "source": "https://news.example/a\x00"}
    as_json = client.post("/remind-me", json=sent)
    assert as_json.status_code == 400
    assert "NUL character" in as_json.get_json()["error"]
    as_form = client.post("/remind-me", data={"csrf_token": csrf_token(client), **sent})
    assert as_form.status_code == 400
    assert count(app, Reminder) == 0


def test_a_nul_in_an_address_or_a_query_is_refused(client: FlaskClient) -> None:
    assert client.post("/remind-me/cancel/abc%00def").status_code == 400
    assert client.get("/support?utm_campaign=a%00b").status_code == 400
    assert client.get("/support?utm_campaign=ab").status_code == 200


def test_stripes_signed_webhook_is_left_to_its_own_checks(client: FlaskClient) -> None:
    response = client.post("/stripe/webhook?x=%00", data=b"{}")
    assert response.status_code == 400
    assert "signature" in response.get_json()["error"]


def test_a_lone_surrogate_in_json_is_refused(app: Flask, client: FlaskClient) -> None:
    """Neither database can store one (psycopg and sqlite3 fail to encode it)."""
    body = '{"email": "reader@example.org", "when": "1m", "source": "https://news.example/\\ud800"}'
    response = client.post("/remind-me", data=body, content_type="application/json")
    assert response.status_code == 400
    assert count(app, Reminder) == 0


def test_deeply_nested_json_is_read_or_refused_never_a_500(client: FlaskClient) -> None:
    """Nine hundred deep: read, without recursion. Deeper than Python's JSON parser goes:
    refused with a reason."""
    deep = "[" * 900 + '"\\u0000"' + "]" * 900
    response = client.post("/remind-me", data=deep, content_type="application/json")
    assert response.status_code == 400
    assert "NUL character" in response.get_json()["error"]
    clean = "[" * 900 + "]" * 900
    assert client.post("/support", data=clean, content_type="application/json").status_code == 200
    deepest = "[" * 100_000 + "]" * 100_000
    response = client.post("/remind-me", data=deepest, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.get_json()["error"]
