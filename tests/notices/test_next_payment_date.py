"""The account page shows each recurring gift's next payment date: the end of the period
Stripe's latest subscription event stated, while the gift renews."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.stripe_events import BASE_TIME, checkout_session, subscription

READER = "reader@example.org"
DAY = 86400


def monthly(period_end: int, **changes: Any) -> dict[str, Any]:
    obj = subscription(subscription_id="sub_m", customer="cus_m", amount=500, **changes)
    obj["items"]["data"][0]["current_period_end"] = period_end
    return obj


@pytest.fixture
def started(post: Callable[..., Any]) -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="subscription", amount=500, customer="cus_m", subscription="sub_m"),
    )


def test_the_account_page_shows_the_next_payment_date(
    app: Flask, started: None, post: Callable[..., Any], signed_in: Callable[[str], FlaskClient]
) -> None:
    post("customer.subscription.updated", monthly(BASE_TIME + 20 * DAY))
    page = signed_in(READER).get("/account").get_data(as_text=True)
    assert "Next payment" in page
    assert "11 October 2026" in page
    assert "we do not keep it" not in page


def test_no_next_payment_for_a_gift_that_ends_with_its_period(
    app: Flask, started: None, post: Callable[..., Any], signed_in: Callable[[str], FlaskClient]
) -> None:
    post(
        "customer.subscription.updated",
        monthly(BASE_TIME + 20 * DAY, cancel_at_period_end=True),
    )
    page = signed_in(READER).get("/account").get_data(as_text=True)
    assert "Next payment" in page  # the gift is listed
    assert "11 October 2026" not in page


def test_no_next_payment_while_collection_is_paused(
    app: Flask, started: None, post: Callable[..., Any], signed_in: Callable[[str], FlaskClient]
) -> None:
    paused = monthly(BASE_TIME + 20 * DAY)
    paused["pause_collection"] = {"behavior": "void", "resumes_at": BASE_TIME + 60 * DAY}
    post("customer.subscription.updated", paused)
    page = signed_in(READER).get("/account").get_data(as_text=True)
    assert "paused until" in page  # the gift is listed, as paused
    assert "11 October 2026" not in page
