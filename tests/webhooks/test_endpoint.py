"""POST /stripe/webhook: verified on the raw body, stored once, answered so Stripe retries
only when a retry could help."""

from __future__ import annotations

import copy
import json
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.extensions import db
from membership.models import Payment, StripeEvent
from membership.webhooks import handlers
from membership.webhooks.payloads import without_personal_details
from tests import stripe_events as se


def stored_events() -> list[StripeEvent]:
    return list(db.session.scalars(select(StripeEvent).order_by(StripeEvent.received_at)))


def payment_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Payment)) or 0


def one_time(pi: str = "pi_endpoint_1", amount: int = 2500) -> dict:
    return se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=amount, payment_intent=pi),
    )


def test_signed_event_is_stored_with_its_envelope(client: FlaskClient, app_ctx: None) -> None:
    evt = one_time()
    response = se.deliver(client, evt)
    assert response.status_code == 200
    assert response.get_json() == {"id": evt["id"], "outcome": "processed"}
    [stored] = stored_events()
    assert stored.id == evt["id"]
    assert stored.type == "checkout.session.completed"
    assert stored.created.timestamp() == se.BASE_TIME and stored.created.utcoffset().seconds == 0
    assert stored.livemode is False
    assert stored.api_version == se.API_VERSION
    assert json.loads(stored.payload) == without_personal_details(copy.deepcopy(evt))
    assert stored.status == "processed" and stored.attempts == 1 and stored.last_error is None
    assert stored.processed_at is not None and stored.received_at is not None


def test_duplicate_delivery_answers_200_and_changes_nothing(
    client: FlaskClient, app_ctx: None
) -> None:
    evt = one_time()
    se.deliver(client, evt)
    second = se.deliver(client, evt)
    assert second.status_code == 200
    assert second.get_json()["outcome"] == "duplicate"
    assert payment_count() == 1
    [stored] = stored_events()
    assert stored.attempts == 1


def test_previous_secret_still_accepted_during_rotation(client: FlaskClient, app_ctx: None) -> None:
    response = se.deliver(client, one_time(), secret=se.OLD_WEBHOOK_SECRET)
    assert response.status_code == 200
    assert payment_count() == 1


@pytest.mark.parametrize(
    ("make_request", "reason"),
    [
        pytest.param(lambda e: {"signature": ""}, "signature", id="missing-signature"),
        pytest.param(lambda e: {"secret": "whsec_forged"}, "signature", id="forged-signature"),
        pytest.param(
            lambda e: {"signature": se.sign(se.body_of(e)).replace("v1=", "v0=")},
            "signature",
            id="wrong-scheme",
        ),
        pytest.param(
            lambda e: {"timestamp": int(time.time()) - 301}, "signature", id="stale-timestamp"
        ),
    ],
)
def test_unverifiable_delivery_is_400_and_nothing_stored(
    client: FlaskClient, app_ctx: None, make_request, reason: str
) -> None:
    evt = one_time()
    response = se.deliver(client, evt, **make_request(evt))
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert stored_events() == [] and payment_count() == 0


def test_body_changed_after_signing_is_refused(client: FlaskClient, app_ctx: None) -> None:
    evt = one_time()
    signature = se.sign(se.body_of(evt))
    tampered = se.body_of(evt).replace("2500", "9999")
    response = se.deliver(client, tampered, signature=signature)
    assert response.status_code == 400
    assert stored_events() == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{not json", id="malformed-json"),
        pytest.param("[1, 2, 3]", id="not-an-object"),
        pytest.param('{"id": "evt_1", "type": "x"}', id="no-created-or-data"),
        pytest.param("\udcff", id="not-utf8"),
    ],
)
def test_malformed_event_is_400_and_nothing_stored(
    client: FlaskClient, app_ctx: None, body: str
) -> None:
    payload = body.encode("utf-8", "surrogateescape")
    timestamp = int(time.time())
    import hashlib
    import hmac

    mac = hmac.new(
        se.WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    response = client.post(
        "/stripe/webhook",
        data=payload,
        headers={"Stripe-Signature": f"t={timestamp},v1={mac}"},
    )
    assert response.status_code == 400
    assert stored_events() == []


def test_body_over_one_megabyte_is_413(client: FlaskClient, app_ctx: None) -> None:
    evt = one_time()
    evt["data"]["object"]["metadata"]["padding"] = "x" * (1024 * 1024)
    response = se.deliver(client, evt)
    assert response.status_code == 413
    assert stored_events() == []


def test_unknown_event_type_is_stored_and_acknowledged(client: FlaskClient, app_ctx: None) -> None:
    evt = se.event("plan.created", se.with_changes("plan", {}))
    response = se.deliver(client, evt)
    assert response.status_code == 200
    [stored] = stored_events()
    assert (stored.type, stored.status) == ("plan.created", "processed")
    assert stored.payload == "{}"  # no handler reads it: the row alone marks it seen


def test_livemode_mismatch_is_recorded_and_ignored(client: FlaskClient, app_ctx: None) -> None:
    evt = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_live"),
        livemode=True,
    )
    response = se.deliver(client, evt)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored"
    [stored] = stored_events()
    assert stored.status == "ignored" and stored.livemode is True
    assert stored.payload == "{}"  # nothing will ever read it: nothing personal is kept
    assert payment_count() == 0


def test_webhook_needs_no_csrf_token_but_forms_do(app: Flask) -> None:
    client = app.test_client()
    assert client.post("/support/checkout", data={"frequency": "once"}).status_code == 400
    assert se.deliver(client, se.event("plan.created", {})).status_code == 200


def test_handler_failure_keeps_event_answers_500_then_replay_succeeds(
    app: Flask, client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = handlers.HANDLERS["checkout.session.completed"]

    def broken(obj: dict, created) -> None:
        original(obj, created)  # the payment is written, then the handler fails
        raise RuntimeError("ledger bug")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
    evt = one_time()
    response = se.deliver(client, evt)
    assert response.status_code == 500
    db.session.rollback()  # a fresh read: see what the app committed
    [stored] = stored_events()
    assert stored.status == "failed" and stored.attempts == 1
    assert stored.last_error == "RuntimeError: ledger bug"
    assert payment_count() == 0  # the handler's effects were rolled back

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", original)
    result = app.test_cli_runner().invoke(args=["stripe", "replay", evt["id"]])
    assert result.exit_code == 0, result.output
    assert f"{evt['id']}: processed" in result.output
    db.session.rollback()  # a fresh read: see what the app committed
    [stored] = stored_events()
    assert stored.status == "processed" and stored.attempts == 2 and stored.last_error is None
    assert payment_count() == 1


def test_stripe_retry_of_a_failed_event_processes_it(
    client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = handlers.HANDLERS["checkout.session.completed"]

    def broken(obj: dict, created) -> None:
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
    evt = one_time()
    assert se.deliver(client, evt).status_code == 500
    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", original)
    retry = se.deliver(client, evt)
    assert retry.status_code == 200
    assert retry.get_json()["outcome"] == "processed"
    assert payment_count() == 1
    db.session.rollback()  # a fresh read: see what the app committed
    assert stored_events()[0].attempts == 2


def test_events_command_lists_failed_events(
    app: Flask, client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    se.deliver(client, se.event("plan.created", {}, event_id="evt_fine"))

    def broken(obj: dict, created) -> None:
        raise ValueError("boom")

    monkeypatch.setitem(handlers.HANDLERS, "charge.refunded", broken)
    evt = se.event(
        "charge.refunded",
        se.charge(payment_intent="pi_x", amount=100, amount_refunded=100),
        event_id="evt_broken",
    )
    se.deliver(client, evt)
    runner = app.test_cli_runner()
    everything = runner.invoke(args=["stripe", "events"]).output
    assert "evt_fine" in everything and "evt_broken" in everything
    failed = runner.invoke(args=["stripe", "events", "--failed"]).output
    assert "evt_broken" in failed and "ValueError: boom" in failed
    assert "evt_fine" not in failed


def test_replay_of_unknown_event_fails_clearly(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["stripe", "replay", "evt_nope"])
    assert result.exit_code != 0
    assert "no stored event evt_nope" in result.output


def test_old_payloads_are_forgotten_but_duplicates_still_recognised(
    app: Flask, client: FlaskClient, app_ctx: None
) -> None:
    from datetime import timedelta

    from membership import clock

    old, recent = one_time("pi_old"), one_time("pi_recent")
    se.deliver(client, old)
    se.deliver(client, recent)
    db.session.execute(
        StripeEvent.__table__.update()
        .where(StripeEvent.id == old["id"])
        .values(received_at=clock.now() - timedelta(days=31))
    )
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["stripe", "forget-payloads"])
    assert "forgot the payloads of 1 events older than 30 days" in result.output
    db.session.rollback()  # a fresh read: see what the app committed
    payloads = {e.id: e.payload for e in stored_events()}
    assert payloads[old["id"]] == "{}"
    assert "reader@example.org" in payloads[recent["id"]]
    assert se.deliver(client, old).get_json()["outcome"] == "duplicate"
    assert payment_count() == 2
    replay = app.test_cli_runner().invoke(args=["stripe", "replay", old["id"]])
    assert replay.exit_code != 0 and "payload was forgotten" in replay.output


def test_ignored_event_cannot_be_replayed_into_the_ledger(
    app: Flask, client: FlaskClient, app_ctx: None
) -> None:
    evt = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_live2"),
        livemode=True,
    )
    se.deliver(client, evt)
    result = app.test_cli_runner().invoke(args=["stripe", "replay", evt["id"]])
    assert result.exit_code != 0 and "ignored" in result.output
    assert payment_count() == 0
