"""Each change a supporter makes from their page, the whole way round: the request Stripe
receives (with its idempotency key), the page saying "being updated", the webhook the
fake Stripe emits for it delivered through the real route, and the ledger then as Stripe
says. Bad input and other people's gifts: 4xx, and nothing asked or changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.account.changes import months_later
from membership.account.models import SupportChange
from membership.extensions import db
from membership.ledger.models import RecurringSupport
from tests.account.conftest import NOON, as_stripe_says, deliver_emitted, ledger, page_csrf
from tests.fake_stripe import FakeStripe


@pytest.fixture
def reader(
    make_supporter: Callable[..., int], make_recurring: Callable[..., int], stripe: FakeStripe
) -> dict[str, int]:
    """The reader's monthly gift of $5.00, as Stripe and the ledger both hold it; and
    someone else's."""
    reader_id = make_supporter("reader@example.org", customer="cus_reader")
    other_id = make_supporter("other@example.org", customer="cus_other")
    stripe.add_subscription("sub_reader", "cus_reader", amount=500)
    stripe.add_subscription("sub_other", "cus_other", amount=900)
    return {
        "own": make_recurring(reader_id, "cus_reader", "sub_reader", amount_minor=500),
        "others": make_recurring(other_id, "cus_other", "sub_other", amount_minor=900),
    }


def changes_asked(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(SupportChange)) or 0)


def post(client: FlaskClient, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": page_csrf(client), **data})


def test_a_pause_of_two_months_round_trip(
    app: Flask,
    reader: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    clock_at: Callable[[datetime], None],
) -> None:
    clock_at(datetime(2026, 12, 31, 9, 0, tzinfo=UTC))
    client = signed_in("reader@example.org")
    response = post(client, f"/account/recurring/{reader['own']}/pause", months="2")
    assert response.status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/sub_reader")
    resumes = datetime(2027, 2, 28, 9, 0, tzinfo=UTC)  # two months on, the month's last day
    assert call.params == {
        "pause_collection": {"behavior": "void", "resumes_at": str(int(resumes.timestamp()))}
    }
    with app.app_context():
        change = db.session.scalars(select(SupportChange)).one()
        assert (change.kind, change.resumes_at) == ("pause", resumes)
    assert call.headers["Idempotency-Key"] == f"account-change-{change.id}"
    assert "Being updated" in client.get("/account").get_data(as_text=True)
    assert ledger(app, reader["own"])["collection_paused"] is False  # not before Stripe's word

    stripe.event_clock = int(datetime(2026, 12, 31, 9, 0, 5, tzinfo=UTC).timestamp())
    stripe.emit("customer.subscription.updated", stripe.subscriptions["sub_reader"])
    deliver_emitted(app, stripe)
    assert ledger(app, reader["own"]) == as_stripe_says(stripe.subscriptions["sub_reader"])
    assert ledger(app, reader["own"])["collection_resumes_at"] == resumes
    text = client.get("/account").get_data(as_text=True)
    assert "Being updated" not in text and "paused until 28 February 2027" in text
    assert "Resume now" in text


def test_resume_round_trip(
    app: Flask, reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    stripe.subscriptions["sub_reader"]["pause_collection"] = {
        "behavior": "void",
        "resumes_at": None,
    }
    with app.app_context():
        row = db.session.get(RecurringSupport, reader["own"])
        assert row is not None
        row.collection_paused = True
        db.session.commit()
    client = signed_in("reader@example.org")
    assert "paused" in client.get("/account").get_data(as_text=True)
    assert post(client, f"/account/recurring/{reader['own']}/resume").status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/sub_reader")
    assert call.params == {"pause_collection": ""}
    deliver_emitted(app, stripe)
    assert ledger(app, reader["own"]) == as_stripe_says(stripe.subscriptions["sub_reader"])
    assert ledger(app, reader["own"])["collection_paused"] is False


def test_a_new_amount_round_trip(
    app: Flask, reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    assert (
        post(client, f"/account/recurring/{reader['own']}/amount", amount="12.50").status_code
        == 303
    )
    deliver_emitted(app, stripe)
    assert ledger(app, reader["own"]) == as_stripe_says(stripe.subscriptions["sub_reader"])
    assert ledger(app, reader["own"])["amount_minor"] == 1250


def test_a_switch_to_annual_round_trip(
    app: Flask, reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    response = post(client, f"/account/recurring/{reader['own']}/switch", amount="60")
    assert response.status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/sub_reader")
    (item,) = call.params["items"]
    assert item["price_data"] == {
        "currency": "usd",
        "unit_amount": "6000",
        "product": "membership_annual",
        "recurring": {"interval": "year"},
    }
    with app.app_context():
        change = db.session.scalars(select(SupportChange)).one()
        assert (change.kind, change.frequency, change.amount_minor) == ("switch", "annual", 6000)
    deliver_emitted(app, stripe)
    assert ledger(app, reader["own"]) == as_stripe_says(stripe.subscriptions["sub_reader"])
    assert ledger(app, reader["own"])["frequency"] == "annual"
    assert "Year" in client.get("/account").get_data(as_text=True)


def test_cancel_offers_less_or_a_pause_first_then_round_trips(
    app: Flask, reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    account = client.get("/account").get_data(as_text=True)
    confirm_path = f"/account/recurring/{reader['own']}/cancel"
    assert f'href="{confirm_path}"' in account  # the page links to the offer, not a stop
    page = client.get(confirm_path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Give less" in text and "Take a break" in text and 'name="months"' in text
    assert f'action="/account/recurring/{reader["own"]}/amount"' in text
    assert f'action="/account/recurring/{reader["own"]}/pause"' in text
    assert f'action="{confirm_path}"' in text
    assert stripe.requests == []  # looking changes nothing
    assert post(client, confirm_path).status_code == 303
    (call,) = stripe.calls("POST", "/v1/subscriptions/sub_reader")
    assert call.params == {"cancel_at_period_end": "true"}
    deliver_emitted(app, stripe)
    assert ledger(app, reader["own"]) == as_stripe_says(stripe.subscriptions["sub_reader"])
    assert ledger(app, reader["own"])["cancel_at_period_end"] is True
    assert "ends at the end of this period" in client.get("/account").get_data(as_text=True)


def test_the_cancel_page_of_someone_elses_gift_is_404(
    reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    assert client.get(f"/account/recurring/{reader['others']}/cancel").status_code == 404
    assert client.get("/account/recurring/999999/cancel").status_code == 404
    assert stripe.requests == []


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("pause", {"months": "4"}, "Choose a pause of 1, 2 or 3 months"),
        ("pause", {"months": "0"}, "Choose a pause of 1, 2 or 3 months"),
        ("pause", {"months": "two"}, "Choose a pause of 1, 2 or 3 months"),
        ("pause", {}, "Choose a pause of 1, 2 or 3 months"),
        ("resume", {}, "This gift is not paused"),
        ("switch", {"amount": ""}, "Enter an amount"),
        ("switch", {"amount": "1"}, "Choose an amount from"),
        ("switch", {"amount": "9999999"}, "Choose an amount from"),
    ],
    ids=[
        "pause-4-months",
        "pause-0-months",
        "pause-words",
        "pause-no-length",
        "resume-not-paused",
        "switch-no-amount",
        "switch-too-small",
        "switch-too-large",
    ],
)
def test_bad_input_is_refused_and_nothing_is_asked(
    app: Flask,
    reader: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    kind: str,
    data: dict[str, str],
    message: str,
) -> None:
    client = signed_in("reader@example.org")
    before = ledger(app, reader["own"])
    response = post(client, f"/account/recurring/{reader['own']}/{kind}", **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert stripe.requests == [] and changes_asked(app) == 0
    assert ledger(app, reader["own"]) == before


@pytest.mark.parametrize("kind", ["pause", "resume", "switch", "cancel", "amount"])
def test_without_the_pages_csrf_token_nothing_is_asked(
    app: Flask,
    reader: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    kind: str,
) -> None:
    client = signed_in("reader@example.org")
    response = client.post(
        f"/account/recurring/{reader['own']}/{kind}", data={"months": "1", "amount": "20"}
    )
    assert response.status_code == 400
    assert stripe.requests == [] and changes_asked(app) == 0


@pytest.mark.parametrize("kind", ["pause", "resume", "switch", "cancel", "amount"])
def test_someone_elses_gift_is_404_whatever_the_change(
    app: Flask,
    reader: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    kind: str,
) -> None:
    client = signed_in("reader@example.org")
    before = ledger(app, reader["others"])
    response = post(
        client, f"/account/recurring/{reader['others']}/{kind}", months="1", amount="20"
    )
    assert response.status_code == 404
    assert stripe.requests == [] and changes_asked(app) == 0
    assert ledger(app, reader["others"]) == before


def test_a_second_change_waits_for_the_first_to_arrive(
    app: Flask, reader: dict[str, int], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in("reader@example.org")
    assert post(client, f"/account/recurring/{reader['own']}/amount", amount="9").status_code == 303
    response = post(client, f"/account/recurring/{reader['own']}/pause", months="1")
    assert response.status_code == 400
    assert "on its way" in response.get_data(as_text=True)
    assert len(stripe.calls("POST", "/v1/subscriptions/")) == 1 and changes_asked(app) == 1
    deliver_emitted(app, stripe)
    assert post(client, f"/account/recurring/{reader['own']}/pause", months="1").status_code == 303


def test_a_lost_webhook_holds_a_gift_back_for_an_hour_at_most(
    app: Flask,
    reader: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    clock_at: Callable[[datetime], None],
) -> None:
    clock_at(NOON.replace(day=3))
    client = signed_in("reader@example.org")
    assert post(client, f"/account/recurring/{reader['own']}/amount", amount="9").status_code == 303
    assert "Being updated" in client.get("/account").get_data(as_text=True)
    stripe.events.clear()  # Stripe's webhook never arrives
    clock_at(NOON.replace(day=3, hour=13, minute=1))
    client = signed_in("reader@example.org")  # a new session: the old one went idle
    assert "Being updated" not in client.get("/account").get_data(as_text=True)


def test_months_later_keeps_the_day_or_takes_the_months_last() -> None:
    start = datetime(2027, 1, 31, 8, 30, tzinfo=UTC)
    assert months_later(start, 1) == datetime(2027, 2, 28, 8, 30, tzinfo=UTC)
    assert months_later(start, 3) == datetime(2027, 4, 30, 8, 30, tzinfo=UTC)
    assert months_later(datetime(2027, 11, 15, tzinfo=UTC), 2) == datetime(2028, 1, 15, tzinfo=UTC)
