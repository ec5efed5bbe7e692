"""``flask stripe sync`` after an outage: every event Stripe lists is stored as Stripe sent
it and processed; one that cannot be is reported, the others go on, the command ends with
status 1, and running it again takes up what is left.

The events are real recordings from other projects (``tests/webhooks/recorded/``, their
sources and licences in its README), served by the fake Stripe's Events API.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from membership import stripe_gateway
from membership.config import current_settings
from membership.extensions import db
from membership.models import Payment, RecurringSupport, StripeEvent, Supporter
from membership.webhooks import service
from membership.webhooks import sync as stripe_sync
from membership.webhooks.handlers import HANDLERS
from membership.webhooks.payloads import NO_PAYLOAD, without_personal_details
from tests import stripe_events as se
from tests.fake_stripe import FakeStripe

RECORDED = Path(__file__).resolve().parent / "recorded"
RECORDED_FILES = [
    "stripe-sync-engine/price_created.json",
    "stripe-sync-engine/subscription_created.json",
    "stripe-sync-engine/invoice_paid.json",
    "dj-stripe/composed_customer_subscription_created.json",
    "zulip/add_minimum_licenses--Event.list.3@0c1e56bc.json",
]
# The subscriptions those events create (2020-03-02 and 2016-03-07 shapes).
RECORDED_SUBSCRIPTIONS = {"sub_JdIzvfy6o5GZRd", "sub_fakefakefakefakefake0001"}
SINCE = "2001-09-09"  # before every recording: Zulip's are dated 1000000000


def recorded(name: str) -> list[dict[str, Any]]:
    """The events of a recorded file (one event, or a page of ``Event.list``), each with an
    id of its own (the same in every run) and in test mode."""
    document = json.loads((RECORDED / name).read_text())
    events = document["data"] if document.get("object") == "list" else [document]
    stem = re.sub(r"\W+", "_", Path(name).stem)
    return [
        {**event, "id": f"evt_rec_{stem}_{position}", "livemode": False}
        for position, event in enumerate(events)
    ]


def all_recorded() -> list[dict[str, Any]]:
    return [event for name in RECORDED_FILES for event in recorded(name)]


def decimal_fields(value: Any, path: str = "") -> dict[str, Any]:
    """Every ``*_decimal`` field anywhere in ``value``, by its path."""
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, child in value.items():
            if key.endswith("_decimal"):
                found[f"{path}.{key}"] = child
            found.update(decimal_fields(child, f"{path}.{key}"))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.update(decimal_fields(child, f"{path}[{index}]"))
    return found


def sync(app: Flask) -> Any:
    return app.test_cli_runner().invoke(args=["stripe", "sync", "--since", SINCE])


def stored(app: Flask) -> dict[str, StripeEvent]:
    with app.app_context():
        events = db.session.scalars(select(StripeEvent)).all()
        db.session.expunge_all()
    return {event.id: event for event in events}


def disputed_charge_event() -> dict[str, Any]:
    """A dispute in the old shape, naming only its charge: Stripe is asked for the charge's
    payment intent before processing, and while Stripe fails the event fails too."""
    return se.event(
        "charge.dispute.created",
        se.dispute(
            payment_intent=None, charge_id="ch_sync_disputed", amount=2000, status="needs_response"
        ),
    )


def test_listed_events_are_as_stripe_sent_them(app: Flask, stripe: FakeStripe) -> None:
    events = all_recorded()
    stripe.events.extend(copy.deepcopy(events))

    with app.app_context():
        page, has_more = stripe_gateway.list_events(current_settings(), 0)

    assert has_more is False
    assert sorted(page, key=lambda event: event["id"]) == sorted(
        events, key=lambda event: event["id"]
    )
    decimals = decimal_fields(page)
    assert len(decimals) >= 10
    assert all(isinstance(value, str) for value in decimals.values()), decimals


def test_sync_stores_and_processes_recorded_events_with_decimal_fields(
    app: Flask, stripe: FakeStripe
) -> None:
    events = all_recorded()
    stripe.events.extend(copy.deepcopy(events))

    result = sync(app)

    n = len(events)
    assert result.exit_code == 0, result.output
    assert (
        f"listed {n}, already settled 0; processed {n}, duplicate 0, ignored 0, failed 0, "
        "not stored 0" in result.output
    )
    kept = stored(app)
    assert set(kept) == {event["id"] for event in events}
    for event in events:
        row = kept[event["id"]]
        assert (row.status, row.attempts, row.last_error) == ("processed", 1, None)
        if event["type"] in HANDLERS:  # kept as Stripe sent it, less the personal details
            assert json.loads(row.payload) == without_personal_details(copy.deepcopy(event))
        else:
            assert row.payload == NO_PAYLOAD
    zulip_invoice = kept["evt_rec_add_minimum_licenses_Event_list_3_0c1e56bc_0"].payload
    assert '"pricing":{"price_details":' in zulip_invoice
    assert '"unit_amount_decimal":"4000"' in zulip_invoice
    with app.app_context():
        subscriptions = set(db.session.scalars(select(RecurringSupport.stripe_subscription_id)))
    assert subscriptions >= RECORDED_SUBSCRIPTIONS


def test_sync_reports_the_events_it_cannot_process_goes_on_and_a_rerun_takes_them_up(
    app: Flask, stripe: FakeStripe
) -> None:
    good = all_recorded()
    disputed = disputed_charge_event()
    malformed = se.event(
        "customer.subscription.updated",
        se.subscription(subscription_id="sub_sync_malformed", customer="cus_sync", amount=500),
        created=10**20,
    )
    stripe.events.extend(copy.deepcopy([*good, disputed, malformed]))
    stripe.fail_with, stripe.fail_path = 503, "/v1/charges/"
    n = len(good)

    first = sync(app)

    assert first.exit_code == 1, first.output
    assert (
        f"listed {n + 2}, already settled 0; processed {n}, duplicate 0, ignored 0, failed 1, "
        "not stored 1" in first.output
    )
    assert (
        f"'{malformed['id']}' ('customer.subscription.updated'): refused, not stored: "
        f"created {10**20} is not a time" in first.output
    )
    assert (
        f"'{disputed['id']}' ('charge.dispute.created'): failed, kept to retry: "
        "RetryLater: could not look up the disputed charge" in first.output
    )
    kept = stored(app)
    assert malformed["id"] not in kept
    assert kept[disputed["id"]].status == "failed"
    assert all(kept[event["id"]].status == "processed" for event in good)

    stripe.fail_with = None  # Stripe answers again
    stripe.charges["ch_sync_disputed"] = se.charge(
        payment_intent="pi_sync_disputed",
        amount=2000,
        amount_refunded=0,
        charge_id="ch_sync_disputed",
    )

    second = sync(app)

    assert second.exit_code == 1, second.output  # the malformed event is still listed
    assert (
        f"listed {n + 2}, already settled {n}; processed 1, duplicate 0, ignored 0, failed 0, "
        "not stored 1" in second.output
    )
    kept = stored(app)
    assert (kept[disputed["id"]].status, kept[disputed["id"]].attempts) == ("processed", 2)
    assert malformed["id"] not in kept

    stripe.events.remove(malformed)  # as if Stripe no longer listed it

    third = sync(app)

    assert third.exit_code == 0, third.output
    assert f"listed {n + 1}, already settled {n + 1}; processed 0" in third.output


def test_an_unexpected_error_in_one_event_is_reported_and_the_rest_go_on(
    app: Flask, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = all_recorded()
    stripe.events.extend(copy.deepcopy(events))
    unlucky = events[1]["id"]
    receive_event = service.receive_event

    def failing_once(settings: Any, event: dict[str, Any]) -> service.Received:
        if event["id"] == unlucky:
            raise RuntimeError("the disk is full")
        return receive_event(settings, event)

    monkeypatch.setattr(service, "receive_event", failing_once)

    first = sync(app)

    n = len(events)
    assert first.exit_code == 1, first.output
    assert f"'{unlucky}' (" in first.output
    assert "not stored: RuntimeError: the disk is full" in first.output
    assert f"processed {n - 1}, duplicate 0, ignored 0, failed 0, not stored 1" in first.output
    assert set(stored(app)) == {event["id"] for event in events} - {unlucky}

    monkeypatch.setattr(service, "receive_event", receive_event)

    second = sync(app)

    assert second.exit_code == 0, second.output
    assert f"already settled {n - 1}; processed 1," in second.output
    assert set(stored(app)) == {event["id"] for event in events}


def test_replay_processes_a_synced_event_with_decimal_fields_again(
    app: Flask, stripe: FakeStripe
) -> None:
    [event] = recorded("dj-stripe/composed_customer_subscription_created.json")
    stripe.events.append(copy.deepcopy(event))
    assert sync(app).exit_code == 0
    before = stored(app)[event["id"]]

    result = app.test_cli_runner().invoke(args=["stripe", "replay", event["id"]])

    assert result.exit_code == 0, result.output
    assert f"{event['id']}: processed" in result.output
    after = stored(app)[event["id"]]
    assert after.payload == before.payload
    assert '"amount_decimal":"2000"' in after.payload
    assert (after.status, after.attempts) == ("processed", 2)


# -- A long backlog: page by page, resumed where it stopped ----------------------------------

BACKLOG = 730  # seven full pages of 100 and a last one of 30


def backlog_event(n: int) -> dict[str, Any]:
    """The n-th newest of a day of gifts: one reader in three gives twice."""
    session = se.checkout_session(
        mode="payment",
        amount=500 + n,
        email=f"backlog{n % (2 * BACKLOG // 3)}@example.org",
        payment_intent=f"pi_backlog_{n}",
        session_id=f"cs_backlog_{n}",
    )
    return se.event("checkout.session.completed", session, created=se.BASE_TIME - n)


def test_an_interrupted_sync_resumes_after_its_last_page_and_misses_or_doubles_none(
    app: Flask, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe.generate_events(BACKLOG, backlog_event)
    receive = service.receive_listed_event
    calls = 0

    def stopped_at_the_430th(settings: Any, event: dict[str, Any]) -> service.Received:
        nonlocal calls
        calls += 1
        if calls == 430:
            raise KeyboardInterrupt  # Ctrl-C, half way through the fifth page
        return receive(settings, event)

    monkeypatch.setattr(service, "receive_listed_event", stopped_at_the_430th)

    first = sync(app)

    assert first.exit_code != 0
    assert len(stored(app)) == 429
    with app.app_context():
        cursor = stripe_sync.resume_point(se_since())
        assert cursor is not None and (cursor.listed, cursor.starting_after) == (400, "evt_gen_399")
    monkeypatch.setattr(service, "receive_listed_event", receive)
    pages_before = len(stripe.calls("GET", "/v1/events"))

    second = sync(app)

    assert second.exit_code == 0, second.output
    assert "resuming after 400 events listed by a run stopped at" in second.output
    assert (
        "listed 330, already settled 29; processed 301, duplicate 0, ignored 0, failed 0, "
        "not stored 0" in second.output
    )
    assert len(stripe.calls("GET", "/v1/events")) - pages_before == 4  # pages 5 to 8
    assert f"listed {BACKLOG:,}, already settled 29, received 301" in second.output  # progress
    kept = stored(app)
    assert set(kept) == {f"evt_gen_{n}" for n in range(BACKLOG)}
    assert {(event.status, event.attempts) for event in kept.values()} == {("processed", 1)}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == BACKLOG
        assert db.session.scalar(select(func.count()).select_from(Supporter)) == 2 * BACKLOG // 3
        assert stripe_sync.resume_point(se_since()) is None  # done: the next run starts anew


def test_a_page_with_an_event_not_processed_holds_the_cursor_for_the_retry(
    app: Flask, stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event that fails on the second page keeps the cursor after the first, so that
    a run stopped later still lists that event again and processes it."""
    stripe.generate_events(BACKLOG, backlog_event)
    receive = service.receive_listed_event
    calls = 0

    def failing_then_stopped(settings: Any, event: dict[str, Any]) -> service.Received:
        nonlocal calls
        calls += 1
        if event["id"] == "evt_gen_150":
            raise RuntimeError("the disk is full")
        if calls == 600:
            raise KeyboardInterrupt
        return receive(settings, event)

    monkeypatch.setattr(service, "receive_listed_event", failing_then_stopped)

    assert sync(app).exit_code != 0
    with app.app_context():
        cursor = stripe_sync.resume_point(se_since())
        assert cursor is not None and cursor.listed == 100
    monkeypatch.setattr(service, "receive_listed_event", receive)

    second = sync(app)

    assert second.exit_code == 0, second.output
    assert f"listed {BACKLOG - 100}, already settled {598 - 100}; processed 132," in second.output
    assert set(stored(app)) == {f"evt_gen_{n}" for n in range(BACKLOG)}


def test_from_start_lists_everything_again(app: Flask, stripe: FakeStripe) -> None:
    stripe.generate_events(250, backlog_event)
    with app.app_context():
        db.session.add(
            stripe_sync.SyncCursor(
                created_since=se_since(), starting_after="evt_gen_199", listed=200
            )
        )
        db.session.commit()

    result = app.test_cli_runner().invoke(args=["stripe", "sync", "--since", SINCE, "--from-start"])

    assert result.exit_code == 0, result.output
    assert "listed 250, already settled 0; processed 250" in result.output


def se_since() -> int:
    """``SINCE`` as the Unix time the cursor is kept under."""
    return int(datetime.fromisoformat(SINCE).replace(tzinfo=UTC).timestamp())
