"""Changes to a recurring gift, asked of Stripe with an idempotency key: the page says
"being updated" until Stripe's webhook arrives, and the ledger changes only then."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.account.models import SupportChange
from membership.extensions import db
from membership.ledger.models import RecurringSupport
from tests.account.conftest import page_csrf
from tests.fake_stripe import FakeStripe


@pytest.fixture
def gifts(
    make_supporter: Callable[..., int], make_recurring: Callable[..., int], stripe: FakeStripe
) -> dict[str, int]:
    """The reader's monthly gift, one of theirs under a customer no longer theirs, and
    someone else's."""
    reader = make_supporter("reader@example.org", customer="cus_reader")
    other = make_supporter("other@example.org", customer="cus_other")
    stripe.add_subscription("sub_reader", "cus_reader")
    stripe.add_subscription("sub_other", "cus_other")
    return {
        "own": make_recurring(reader, "cus_reader", "sub_reader"),
        "old_customer": make_recurring(reader, "cus_gone", "sub_gone"),
        "others": make_recurring(other, "cus_other", "sub_other"),
    }


def changes_asked(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(SupportChange)) or 0)


def ledger_row(app: Flask, recurring_id: int) -> RecurringSupport:
    with app.app_context():
        row = db.session.get(RecurringSupport, recurring_id)
        assert row is not None
        db.session.expunge(row)
        return row


def test_cancel_at_period_end_is_asked_of_stripe_and_the_ledger_waits_for_its_word(
    app: Flask, gifts: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{gifts['own']}/cancel", data={"csrf_token": page_csrf(client)}
    )
    assert response.status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/")
    assert call.path == "/v1/subscriptions/sub_reader"
    assert call.params == {"cancel_at_period_end": "true"}
    with app.app_context():
        change = db.session.scalars(select(SupportChange)).one()
        assert call.headers["Idempotency-Key"] == f"account-change-{change.id}"
    assert "Being updated" in client.get("/account").get_data(as_text=True)
    assert ledger_row(app, gifts["own"]).cancel_at_period_end is False
    # Stripe's webhook recorded by the ledger (a state newer than the request) ends the wait.
    with app.app_context():
        row = db.session.get(RecurringSupport, gifts["own"])
        assert row is not None
        row.cancel_at_period_end = True
        row.status_as_of = change.requested_at + timedelta(seconds=1)
        db.session.commit()
    text = client.get("/account").get_data(as_text=True)
    assert "Being updated" not in text and "ends at the end of this period" in text


def test_a_new_amount_is_a_new_price_from_the_next_invoice(
    app: Flask, gifts: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{gifts['own']}/amount",
        data={"csrf_token": page_csrf(client), "amount": "7"},
    )
    assert response.status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/")
    assert call.params["proration_behavior"] == "none"
    (item,) = call.params["items"]
    assert item["id"] == stripe.subscriptions["sub_reader"]["items"]["data"][0]["id"]
    assert item["price_data"]["unit_amount"] == "700"
    assert item["price_data"]["recurring"] == {"interval": "month"}
    assert ledger_row(app, gifts["own"]).amount_minor == 500


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount"),
        ("seven", "Enter an amount"),
        ("0.50", "Choose an amount from"),
        ("999999", "Choose an amount from"),
        ("5", "That is the amount you give now"),
    ],
    ids=["empty", "words", "too-small", "too-large", "unchanged"],
)
def test_a_bad_amount_is_refused_and_nothing_is_asked(
    app: Flask,
    gifts: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    amount: str,
    message: str,
) -> None:
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{gifts['own']}/amount",
        data={"csrf_token": page_csrf(client), "amount": amount},
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stripe.calls("POST", "/v1/subscriptions/") == []
    assert changes_asked(app) == 0


@pytest.mark.parametrize(
    "target", ["others", "old_customer", "unknown"], ids=["someone-elses", "old-customer", "none"]
)
@pytest.mark.parametrize("kind", ["cancel", "amount", "pause"])
def test_a_gift_not_theirs_is_404_and_nothing_changes(
    app: Flask,
    gifts: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    target: str,
    kind: str,
) -> None:
    client = signed_in("reader@example.org")
    recurring_id = gifts.get(target, 999999)
    response = client.post(
        f"/account/recurring/{recurring_id}/{kind}",
        data={"csrf_token": page_csrf(client), "amount": "7"},
    )
    assert response.status_code == 404
    assert stripe.calls("GET", "/v1/subscriptions/") == []
    assert stripe.calls("POST", "/v1/subscriptions/") == []
    assert changes_asked(app) == 0


def test_an_unknown_change_is_404(
    app: Flask, gifts: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{gifts['own']}/delete", data={"csrf_token": page_csrf(client)}
    )
    assert response.status_code == 404
    assert stripe.requests == [] and changes_asked(app) == 0


def test_an_ended_gift_cannot_be_changed(
    app: Flask,
    make_supporter: Callable[..., int],
    make_recurring: Callable[..., int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
) -> None:
    reader = make_supporter("reader@example.org", customer="cus_reader")
    ended = make_recurring(reader, "cus_reader", "sub_ended", status="canceled")
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{ended}/cancel", data={"csrf_token": page_csrf(client)}
    )
    assert response.status_code == 400
    assert stripe.requests == [] and changes_asked(app) == 0


def test_when_stripe_refuses_nothing_is_left_waiting(
    app: Flask, gifts: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    stripe.fail_with = 400
    response = client.post(
        f"/account/recurring/{gifts['own']}/pause",
        data={"csrf_token": page_csrf(client), "months": "1"},
    )
    assert response.status_code == 503
    assert changes_asked(app) == 0
    assert "Being updated" not in client.get("/account").get_data(as_text=True)
