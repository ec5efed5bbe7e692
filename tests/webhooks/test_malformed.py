"""A signed webhook that is not an event we can store is refused with 400 and a reason,
and nothing is stored: deep nesting, a ``created`` no date has, text no database holds."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.extensions import db
from membership.models import Payment, StripeEvent
from membership.webhooks import payloads, service
from tests import stripe_events as se
from tests.webhooks.test_sync import RECORDED_FILES, recorded


def one_time() -> dict:
    return se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_malformed"),
    )


def nothing_stored() -> bool:
    events = db.session.scalar(select(func.count()).select_from(StripeEvent))
    payments = db.session.scalar(select(func.count()).select_from(Payment))
    return events == 0 and payments == 0


def nested(depth: int) -> str:
    """A signed event with a list nested ``depth`` deep in a field no handler reads."""
    evt = one_time()
    evt["data"]["object"]["nested"] = "NESTED"
    return se.body_of(evt).replace('"NESTED"', "[" * depth + "]" * depth)


def with_envelope(**changes: object) -> str:
    evt = one_time()
    evt.update(changes)
    return se.body_of(evt)  # json.dumps writes a lone surrogate as its escape, "\udc80"


def with_metadata(key: str, value: str) -> str:
    evt = one_time()
    evt["data"]["object"]["metadata"] = {key: value}
    return se.body_of(evt)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(nested(100_000), "nested", id="nested-beyond-the-json-parser"),
        pytest.param(nested(990), "nested", id="nested-to-the-parser's-limit"),
        pytest.param(nested(payloads.MAX_DEPTH - 2), "nested", id="nested-past-max-depth"),
        pytest.param(with_envelope(created=10**20), "created", id="created-overflows"),
        pytest.param(with_envelope(created=-(10**20)), "created", id="created-overflows-below"),
        pytest.param(with_envelope(created=10**12), "created", id="created-after-year-9999"),
        pytest.param(with_envelope(created=True), "created", id="created-not-a-number"),
        pytest.param(with_envelope(id="evt_\udcff"), "surrogate", id="lone-surrogate-in-id"),
        pytest.param(
            with_envelope(type="invoice.\ud800"), "surrogate", id="lone-surrogate-in-type"
        ),
        pytest.param(with_metadata("attempt_id", "a\udc80"), "surrogate", id="lone-surrogate-deep"),
        pytest.param(with_metadata("\udc80", "x"), "surrogate", id="lone-surrogate-in-a-key"),
        pytest.param(with_envelope(id="evt_\x00"), "id", id="nul-in-id"),
        pytest.param(with_envelope(id=""), "id", id="empty-id"),
        pytest.param(with_envelope(id="evt_" + "x" * 252), "id", id="id-longer-than-stored"),
        pytest.param(with_envelope(type="t" * 101), "type", id="type-longer-than-stored"),
        pytest.param(with_envelope(api_version=20250730), "api_version", id="api-version-number"),
        pytest.param(with_envelope(api_version="v" * 51), "api_version", id="api-version-too-long"),
    ],
)
def test_signed_but_malformed_event_is_400_with_a_reason_and_nothing_stored(
    client: FlaskClient, app_ctx: None, body: str, reason: str
) -> None:
    response = se.deliver(client, body)

    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert reason in response.get_json()["error"]
    assert nothing_stored()


def test_text_beyond_the_basic_plane_is_accepted(client: FlaskClient, app_ctx: None) -> None:
    """An escaped surrogate pair is one character (here an emoji), not a lone surrogate."""
    body = with_metadata("note", "thanks \U0001f600")
    assert "\\ud83d\\ude00" in body

    response = se.deliver(client, body)

    assert response.status_code == 200
    stored = db.session.scalars(select(StripeEvent)).one()
    assert json.loads(stored.payload)["data"]["object"]["metadata"]["note"] == "thanks \U0001f600"


def test_nesting_to_max_depth_is_accepted(client: FlaskClient, app_ctx: None) -> None:
    depth = payloads.MAX_DEPTH - 3  # the event, data and object hold the outer list

    assert se.deliver(client, nested(depth)).status_code == 200


@pytest.mark.parametrize("name", RECORDED_FILES)
def test_recorded_events_of_every_api_version_pass_the_checks(name: str) -> None:
    for event in recorded(name):
        service.check_event(event)
