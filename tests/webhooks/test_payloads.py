"""What is kept of an event: what the handlers read, not the card, billing, shipping and
contact details Stripe sends along; and a replay from what is kept gives the same ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.extensions import db
from membership.models import Payment, StripeEvent, Supporter
from membership.webhooks import service
from membership.webhooks.payloads import PERSONAL_KEYS, without_personal_details
from tests import stripe_events as se


def stored_payload(event_id: str) -> str:
    stored = db.session.get(StripeEvent, event_id)
    assert stored is not None
    return stored.payload


def keys_anywhere(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys_anywhere(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_anywhere(item) for item in value))
    return set()


def test_a_charge_keeps_no_card_billing_or_receipt_details(
    client: FlaskClient, app_ctx: None
) -> None:
    gift = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_kept"),
    )
    refund = se.event(
        "charge.refunded", se.charge(payment_intent="pi_kept", amount=2500, amount_refunded=500)
    )
    sent = keys_anywhere(refund)
    # Stripe's example charge carries them: the test would prove nothing otherwise.
    assert {"billing_details", "payment_method_details", "receipt_url"} <= sent
    assert {"last4", "fingerprint"} <= sent
    for evt in (gift, refund):
        assert se.deliver(client, evt).status_code == 200

    kept = json.loads(stored_payload(refund["id"]))
    assert not keys_anywhere(kept) & PERSONAL_KEYS
    assert kept["data"]["object"]["payment_intent"] == "pi_kept"  # what the handler reads
    assert kept["data"]["object"]["amount_refunded"] == 500
    payment = db.session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == "pi_kept")
    )
    assert payment is not None and payment.amount_refunded_minor == 500


def test_a_checkout_keeps_the_email_and_the_apps_metadata(
    client: FlaskClient, app_ctx: None
) -> None:
    session = se.checkout_session(
        mode="payment", amount=2500, payment_intent="pi_meta", email="kept@example.org"
    )
    session["customer_details"]["address"] = {"line1": "1 Secret Street", "city": "Riga"}
    session["customer_details"]["phone"] = "+37100000000"
    session["metadata"]["address"] = "ours, kept"  # the app's own metadata is never touched
    evt = se.event("checkout.session.completed", session)
    assert se.deliver(client, evt).status_code == 200

    payload = stored_payload(evt["id"])
    assert "Secret Street" not in payload and "+37100000000" not in payload
    kept = json.loads(payload)["data"]["object"]
    assert kept["customer_details"]["email"] == "kept@example.org"
    assert kept["metadata"]["address"] == "ours, kept"
    assert db.session.scalar(select(Supporter.email)) == "kept@example.org"


def test_a_replay_from_what_is_kept_changes_nothing(client: FlaskClient, app: Flask) -> None:
    """The event is processed from what is stored, so a replay sees the same event."""
    evt = se.event(
        "charge.refunded", se.charge(payment_intent="pi_replay", amount=2500, amount_refunded=2500)
    )
    with app.app_context():
        db.session.add(
            Payment(
                stripe_payment_intent_id="pi_replay",
                frequency="once",
                amount_minor=2500,
                currency="USD",
                status="succeeded",
                paid_at=datetime.fromtimestamp(se.BASE_TIME, UTC),
            )
        )
        db.session.commit()
    assert se.deliver(client, evt).status_code == 200
    with app.app_context():
        assert service.replay_event(evt["id"]) is service.Outcome.PROCESSED
        payment = db.session.scalar(select(Payment))
        assert payment is not None
        assert (payment.status, payment.amount_refunded_minor) == ("refunded", 2500)


def test_stripping_leaves_the_event_otherwise_whole() -> None:
    event = {
        "id": "evt_1",
        "data": {
            "object": {
                "billing_details": {"name": "A Cardholder"},
                "source": {"object": "card", "last4": "4242"},
                "lines": {"data": [{"id": "il_1", "address": "x", "amount": 500}]},
                "metadata": {"phone": "ours"},
            }
        },
    }
    assert without_personal_details(event) == {
        "id": "evt_1",
        "data": {
            "object": {
                "lines": {"data": [{"id": "il_1", "amount": 500}]},
                "metadata": {"phone": "ours"},
            }
        },
    }
    # A source that is not an object (the app's own attribution, in older metadata) stays.
    assert without_personal_details({"source": "https://news.example/a"}) == {
        "source": "https://news.example/a"
    }


def test_a_dispute_keeps_what_its_handler_reads_and_no_evidence() -> None:
    """A dispute's evidence holds the customer's addresses, IP, name and signature."""
    dispute = se.event(
        "charge.dispute.created",
        se.dispute(payment_intent="pi_d", charge_id="ch_d", amount=2500, status="needs_response"),
    )
    assert "evidence" in dispute["data"]["object"]  # Stripe's example carries it
    kept = without_personal_details(dispute)["data"]["object"]
    assert not keys_anywhere(kept) & PERSONAL_KEYS
    assert (kept["charge"], kept["payment_intent"], kept["amount"], kept["status"]) == (
        "ch_d",
        "pi_d",
        2500,
        "needs_response",
    )


def test_names_and_invoice_links_are_not_kept(client: FlaskClient, app_ctx: None) -> None:
    """A supporter's name is not needed to recognise them; an invoice's hosted page and PDF
    open their name, email and address to whoever holds the link."""
    session = se.checkout_session(
        mode="subscription",
        amount=700,
        email="named@example.org",
        customer="cus_named",
        subscription="sub_named",
        name="Anna Named",
    )
    invoice = se.invoice(
        invoice_id="in_named",
        subscription="sub_named",
        customer="cus_named",
        amount=700,
        email="named@example.org",
    )
    invoice.update(
        customer_name="Anna Named",
        hosted_invoice_url="https://invoice.stripe.com/i/acct_x/live_opens_it",
        invoice_pdf="https://pay.stripe.com/invoice/acct_x/live_opens_it/pdf",
    )
    customer = se.customer(customer_id="cus_named", email="named@example.org", name="Anna Named")
    customer["individual_name"] = customer["business_name"] = "Anna Named"
    events = [
        se.event("checkout.session.completed", session),
        se.event("invoice.paid", invoice),
        se.event("customer.updated", customer),
    ]
    for evt in events:
        assert se.deliver(client, evt).status_code == 200
        payload = stored_payload(evt["id"])
        assert "Anna Named" not in payload and "live_opens_it" not in payload, evt["type"]
    assert db.session.scalar(select(Supporter.email)) == "named@example.org"
