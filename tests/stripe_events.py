"""Build Stripe webhook events from Stripe's published example objects, signed as Stripe signs.

Every object starts as the resource's example in ``tests/stripe/fixtures3.json``
(the current API shapes); a test changes only the fields it cares about.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

from flask import has_app_context

from membership.extensions import db
from tests.fake_stripe import stripe_fixture

WEBHOOK_SECRET = "whsec_test_current"
OLD_WEBHOOK_SECRET = "whsec_test_previous"
API_VERSION = "2026-10-28.endive"
BASE_TIME = 1_790_000_000  # 2026-09-21, a fixed clock for event ``created`` times

_counter = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_counter):06d}{int(time.time() * 1000) % 10**8:08d}"


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for this exact body."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(
    event_type: str,
    obj: dict[str, Any],
    created: int | None = None,
    event_id: str | None = None,
    livemode: bool = False,
) -> dict[str, Any]:
    """Wrap an object in Stripe's example ``event`` envelope."""
    envelope = stripe_fixture("event")
    envelope.update(
        id=event_id or _unique("evt"),
        type=event_type,
        created=BASE_TIME if created is None else created,
        livemode=livemode,
        api_version=API_VERSION,
        data={"object": obj, "previous_attributes": {}},
        pending_webhooks=1,
    )
    return envelope


def with_changes(resource: str, changes: dict[str, Any]) -> dict[str, Any]:
    obj = stripe_fixture(resource)
    obj.update(changes)
    return obj


def checkout_session(
    *,
    mode: str,
    amount: int,
    currency: str = "usd",
    attempt_id: str | None = None,
    frequency: str | None = None,
    email: str = "reader@example.org",
    customer: str | None = None,
    payment_intent: str | None = None,
    subscription: str | None = None,
    payment_status: str = "paid",
    session_id: str | None = None,
    status: str = "complete",
    name: str | None = None,
) -> dict[str, Any]:
    session = stripe_fixture("checkout.session")
    session["customer_details"]["email"] = email
    session["customer_details"]["name"] = name
    metadata = {}
    if attempt_id:
        metadata = {"attempt_id": attempt_id, "frequency": frequency or "", "source": ""}
    session.update(
        id=session_id or _unique("cs_test"),
        mode=mode,
        amount_total=amount,
        amount_subtotal=amount,
        currency=currency,
        customer=customer,
        payment_intent=payment_intent if mode == "payment" else None,
        subscription=subscription if mode == "subscription" else None,
        payment_status=payment_status,
        status=status,
        client_reference_id=attempt_id,
        metadata=metadata,
        submit_type="donate" if mode == "payment" else None,
    )
    return session


def invoice(
    *,
    invoice_id: str,
    subscription: str,
    customer: str,
    amount: int,
    currency: str = "usd",
    email: str | None = "reader@example.org",
    paid_at: int | None = None,
    attempt_id: str | None = None,
    frequency: str | None = None,
    status: str = "paid",
    attempt_count: int = 1,
    billing_reason: str = "subscription_cycle",
    price: str | None = None,
    amount_paid: int | None = None,
) -> dict[str, Any]:
    """An invoice in the current shape: subscription under ``parent.subscription_details``,
    each line's price named (not expanded) under ``pricing.price_details``: the interval is
    on the subscription's price, not on the invoice."""
    obj = stripe_fixture("invoice")
    sub_metadata = {"attempt_id": attempt_id, "frequency": frequency} if attempt_id else {}
    obj.update(
        id=invoice_id,
        customer=customer,
        customer_email=email,
        amount_due=amount,
        amount_paid=(amount if amount_paid is None else amount_paid) if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount,
        currency=currency,
        status=status,
        attempt_count=attempt_count,
        billing_reason=billing_reason,
        subscription=None,
        parent={
            "quote_details": None,
            "subscription_details": {"metadata": sub_metadata, "subscription": subscription},
            "type": "subscription_details",
        },
    )
    obj["status_transitions"]["paid_at"] = paid_at if status == "paid" else None
    for line in obj["lines"]["data"]:
        line.update(amount=amount, currency=currency, invoice=invoice_id)
        line["parent"]["type"] = "subscription_item_details"
        line["parent"]["invoice_item_details"] = None
        line["parent"]["subscription_item_details"]["subscription"] = subscription
        line["parent"]["subscription_item_details"]["proration"] = False
        line["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price or f"price_{subscription}", "product": "prod_x"},
            "unit_amount_decimal": str(amount),
        }
    return obj


def invoice_payment(
    *, invoice_id: str, payment_intent: str, amount: int, currency: str = "usd"
) -> dict[str, Any]:
    return with_changes(
        "invoice_payment",
        {
            "id": _unique("inpay"),
            "invoice": invoice_id,
            "amount_paid": amount,
            "amount_requested": amount,
            "currency": currency,
            "livemode": False,
            "status": "paid",
            "payment": {"type": "payment_intent", "payment_intent": payment_intent},
        },
    )


def subscription(
    *,
    subscription_id: str,
    customer: str,
    amount: int,
    currency: str = "usd",
    interval: str = "month",
    status: str = "active",
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    ended_at: int | None = None,
    start_date: int = BASE_TIME,
    attempt_id: str | None = None,
    frequency: str | None = None,
    price: str | None = None,
    trial_end: int | None = None,
    pause_collection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A subscription; its one item's price carries the amount and the interval (Stripe
    never changes a price's interval: a yearly one unnamed is ``price_<id>_year``). It
    collects (``pause_collection`` null) unless told otherwise."""
    obj = stripe_fixture("subscription")
    obj.update(
        id=subscription_id,
        customer=customer,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=None,
        canceled_at=canceled_at,
        ended_at=ended_at,
        start_date=start_date,
        trial_end=trial_end,
        pause_collection=pause_collection,
        metadata={"attempt_id": attempt_id, "frequency": frequency} if attempt_id else {},
    )
    item = obj["items"]["data"][0]
    item["subscription"] = subscription_id
    item["quantity"] = 1
    item["price"].update(
        id=price or f"price_{subscription_id}" + ("" if interval == "month" else f"_{interval}"),
        currency=currency,
        unit_amount=amount,
        unit_amount_decimal=str(amount),
    )
    item["price"]["recurring"]["interval"] = interval
    return obj


def customer(*, customer_id: str, email: str | None, name: str | None = None) -> dict[str, Any]:
    return with_changes("customer", {"id": customer_id, "email": email, "name": name})


def charge(
    *,
    payment_intent: str | None,
    amount: int,
    amount_refunded: int,
    currency: str = "usd",
    charge_id: str | None = None,
) -> dict[str, Any]:
    return with_changes(
        "charge",
        {
            "id": charge_id or _unique("ch"),
            "payment_intent": payment_intent,
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount_refunded,
            "refunded": amount_refunded >= amount,
            "captured": True,
            "currency": currency,
        },
    )


def dispute(
    *,
    payment_intent: str | None,
    charge_id: str,
    amount: int,
    status: str,
    currency: str = "usd",
    dispute_id: str | None = None,
) -> dict[str, Any]:
    return with_changes(
        "dispute",
        {
            "id": dispute_id or _unique("dp"),
            "payment_intent": payment_intent,
            "charge": charge_id,
            "amount": amount,
            "currency": currency,
            "status": status,
        },
    )


def body_of(evt: dict[str, Any]) -> str:
    return json.dumps(evt)


def deliver(
    client: Any,
    evt: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    """POST an event to the webhook as Stripe does: raw JSON body, signed header."""
    payload = evt if isinstance(evt, str) else body_of(evt)
    header = signature if signature is not None else sign(payload, secret, timestamp)
    response = client.post(
        "/stripe/webhook",
        data=payload.encode(),
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )
    if has_app_context():
        # The webhook commits on a connection of its own; end the test session's read
        # transaction, so what the test reads next includes it.
        db.session.rollback()
    return response
