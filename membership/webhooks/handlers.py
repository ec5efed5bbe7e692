"""One handler per Stripe event type: read the payload's shape, call the ledger.

Handlers know Stripe's object shapes (those of the pinned API version, with
fallbacks for older shapes such as localstripe's); the ledger knows none. Each
takes the event's object and its ``created`` time and must be idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from membership import stripe_gateway
from membership.config import current_settings
from membership.ledger import attempts, payments, prices, recurring, supporters
from membership.ledger.recurring import SubscriptionState
from membership.models import normalise_email
from membership.sql.rows import Row
from membership.vocabulary import Frequency

StripeObject = dict[str, Any]
Handler = Callable[[StripeObject, datetime], None]
# What an event is about, by kind (payment_intent="pi_...", customer="cus_..."): the things
# locked before its handler runs (membership.ledger.locks), so that events about the
# same thing never interleave.
Subjects = Callable[[StripeObject], dict[str, str | None]]
HANDLERS: dict[str, Handler] = {}
SUBJECTS: dict[str, Subjects] = {}
# What an event needs from Stripe's API, fetched before its ledger transaction begins
# (``look_up_ahead``): never while that transaction holds its locks (on SQLite,
# every writer's turn).
LookUp = Callable[[StripeObject], None]
LOOK_UPS: dict[str, LookUp] = {}


class RetryLater(RuntimeError):
    """The event cannot be applied yet (say, Stripe was unreachable); Stripe will retry."""


def handles(*event_types: str, about: Subjects) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            HANDLERS[event_type] = handler
            SUBJECTS[event_type] = about
        return handler

    return register


def looks_up(*event_types: str) -> Callable[[LookUp], LookUp]:
    def register(look_up: LookUp) -> LookUp:
        for event_type in event_types:
            LOOK_UPS[event_type] = look_up
        return look_up

    return register


def needs_looking_up(event_type: str) -> bool:
    return event_type in LOOK_UPS


def look_up_ahead(event_type: str, obj: StripeObject) -> None:
    """Complete the event's object with what its handler would otherwise ask Stripe for,
    outside the ledger transaction (it may read the database through the session).
    Raises RetryLater when Stripe cannot answer."""
    look_up = LOOK_UPS.get(event_type)
    if look_up is not None:
        look_up(obj)


def subjects_of(event_type: str, obj: StripeObject) -> dict[str, str | None]:
    """The things an event of this type is about (none for a type we do not handle)."""
    about = SUBJECTS.get(event_type)
    return about(obj) if about is not None else {}


def _email(value: Any) -> str | None:
    return normalise_email(value) if isinstance(value, str) else None


# Stripe's times are seconds since 1970; past year 9999 no datetime holds them.
_LAST_TIMESTAMP = 253_402_300_799


def _timestamp(value: Any) -> datetime | None:
    """A Stripe time, or None when absent or not a time (a signed event is still refused
    nothing for it: the field is simply not known)."""
    if type(value) is not int or not 0 < value <= _LAST_TIMESTAMP:
        return None
    return datetime.fromtimestamp(value, UTC)


def _id(value: Any) -> str | None:
    """An id field that may be a plain id or an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _frequency(metadata: Any) -> str | None:
    """The frequency our Checkout wrote in metadata: what the gift was when it began, a
    fallback only (Stripe never updates it when the price changes)."""
    value = (metadata or {}).get("frequency") if isinstance(metadata, dict) else None
    return value if value in tuple(Frequency) else None


# -- Checkout ----------------------------------------------------------------------------


def _checkout_session_subjects(session: StripeObject) -> dict[str, str | None]:
    metadata = session.get("metadata") or {}
    details = session.get("customer_details") or {}
    return {
        "checkout_session": session.get("id"),
        "attempt": metadata.get("attempt_id") or session.get("client_reference_id"),
        "customer": _id(session.get("customer")),
        "email": _email(details.get("email") or session.get("customer_email")),
        "subscription": _id(session.get("subscription")),
        "payment_intent": _id(session.get("payment_intent")),
    }


@handles(
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    about=_checkout_session_subjects,
)
def checkout_session_completed(session: StripeObject, created: datetime) -> None:
    metadata = session.get("metadata") or {}
    details = session.get("customer_details") or {}
    email = details.get("email") or session.get("customer_email")
    paid = session.get("payment_status") in ("paid", "no_payment_required")
    customer_id = _id(session.get("customer"))
    supporter_id = None
    if paid:
        supporter_id = supporters.find_or_create_supporter(
            customer_id=customer_id, email=email, as_of=created
        )
    attempt = attempts.find_attempt(
        metadata.get("attempt_id") or session.get("client_reference_id"), session.get("id")
    )
    if attempt is not None:
        attempts.advance_attempt(attempt, "paid" if paid else "awaiting_payment", supporter_id)

    currency = str(session.get("currency") or (attempt["currency"] if attempt else "")).upper()
    amount = session.get("amount_total")
    frequency = _frequency(metadata) or (attempt["frequency"] if attempt else None)
    if session.get("mode") == "subscription":
        subscription_id = _id(session.get("subscription"))
        if not subscription_id:
            return
        support = recurring.get_or_create_recurring(subscription_id, customer_id=customer_id)
        recurring.link_recurring(support, supporter_id=supporter_id, attempt=attempt)
        recurring.fill_terms(
            support,
            frequency=frequency,
            amount_minor=amount if isinstance(amount, int) else None,
            currency=currency or None,
            started_at=created,
        )
        if paid and support["status_as_of"] is None:
            support["status"] = "active"
        recurring.save_recurring(support)
    elif paid and session.get("mode") == "payment" and isinstance(amount, int) and amount > 0:
        payments.record_payment(
            payments.PaymentFacts(
                amount_minor=amount,
                currency=currency,
                paid_at=created,
                customer_id=customer_id,
                payment_intent_id=_id(session.get("payment_intent")),
                frequency="once",
            ),
            supporter_id=supporter_id,
            attempt=attempt,
        )


@handles("checkout.session.async_payment_failed", about=_checkout_session_subjects)
def checkout_session_payment_failed(session: StripeObject, created: datetime) -> None:
    _mark_attempt(session, "payment_failed")


@handles("checkout.session.expired", about=_checkout_session_subjects)
def checkout_session_expired(session: StripeObject, created: datetime) -> None:
    _mark_attempt(session, "expired")


def _mark_attempt(session: StripeObject, status: str) -> None:
    metadata = session.get("metadata") or {}
    attempt = attempts.find_attempt(
        metadata.get("attempt_id") or session.get("client_reference_id"), session.get("id")
    )
    if attempt is not None:
        attempts.advance_attempt(attempt, status)


# -- Invoices ----------------------------------------------------------------------------


def _invoice_subscription(invoice: StripeObject) -> tuple[str | None, dict[str, Any]]:
    """The subscription id and its metadata: ``parent.subscription_details`` since 2025,
    each line item's parent, or the top-level ``subscription`` of older API versions."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription_id = _id(details.get("subscription"))
    metadata = details.get("metadata") or {}
    if not subscription_id:
        for line in (invoice.get("lines") or {}).get("data") or []:
            item = ((line.get("parent") or {}).get("subscription_item_details")) or {}
            subscription_id = _id(item.get("subscription")) or _id(line.get("subscription"))
            if subscription_id:
                break
    if not subscription_id:
        subscription_id = _id(invoice.get("subscription"))
    return subscription_id, metadata if isinstance(metadata, dict) else {}


def _invoice_payment_intent(invoice: StripeObject) -> str | None:
    """The payment intent, when the invoice's payments were included (or an old shape)."""
    for invoice_payment in (invoice.get("payments") or {}).get("data") or []:
        payment = invoice_payment.get("payment") or {}
        if payment.get("type") == "payment_intent" and _id(payment.get("payment_intent")):
            return _id(payment.get("payment_intent"))
    return _id(invoice.get("payment_intent"))


def _price_of(item: StripeObject) -> Any:
    """A subscription item's or invoice line's price (``plan`` in older API versions)."""
    return item.get("price") or item.get("plan") or {}


def _interval(price: StripeObject) -> Any:
    """A price's interval (``recurring.interval``; a plan's own ``interval`` in older ones)."""
    return (price.get("recurring") or {}).get("interval") or price.get("interval")


def _items(subscription: StripeObject) -> list[StripeObject]:
    return (subscription.get("items") or {}).get("data") or []


def _invoice_price(invoice: StripeObject) -> tuple[str | None, str | None]:
    """The price the invoice charged (its largest line: a switch's invoice also credits
    the old price) and that price's interval where the invoice shows it (older API
    versions expand ``price`` or ``plan``; the current one names the price only)."""
    lines = [line for line in (invoice.get("lines") or {}).get("data") or [] if line]
    if not lines:
        return None, None
    line = max(
        lines, key=lambda line: line.get("amount") if isinstance(line.get("amount"), int) else 0
    )
    price = _price_of(line)
    details = (line.get("pricing") or {}).get("price_details") or {}
    price_id = _id(details.get("price")) or (_id(price) if isinstance(price, dict) else None)
    interval = _interval(price) if isinstance(price, dict) else None
    return price_id, interval if isinstance(interval, str) else None


def _invoice_frequency(
    invoice: StripeObject, sub_metadata: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The invoice's price and its frequency: the price's interval once known, else what
    our Checkout wrote in metadata (``prices`` derives it again when the price is learnt)."""
    price_id, interval = _invoice_price(invoice)
    prices.learn_price(price_id, interval)
    frequency = prices.frequency_of(price_id) or Frequency.from_interval(interval)
    return price_id, frequency or _frequency(sub_metadata)


def _invoice_subjects(invoice: StripeObject) -> dict[str, str | None]:
    return {
        "invoice": _id(invoice.get("id")),
        "subscription": _invoice_subscription(invoice)[0],
        "customer": _id(invoice.get("customer")),
        "email": _email(invoice.get("customer_email")),
        "payment_intent": _invoice_payment_intent(invoice),
        "price": _invoice_price(invoice)[0],
    }


@handles("invoice.paid", "invoice.payment_succeeded", about=_invoice_subjects)
def invoice_paid(invoice: StripeObject, created: datetime) -> None:
    subscription_id, sub_metadata = _invoice_subscription(invoice)
    amount = invoice.get("amount_paid")
    if not subscription_id or not isinstance(amount, int) or amount <= 0:
        return  # not a recurring gift, or nothing was collected (a trial, a 100% coupon)
    customer_id = _id(invoice.get("customer"))
    email = invoice.get("customer_email")
    support, supporter_id = _recurring_and_supporter(
        subscription_id, customer_id, email, sub_metadata, created
    )
    price_id, frequency = _invoice_frequency(invoice, sub_metadata)
    currency = str(invoice.get("currency") or "").upper()
    paid_at = _timestamp((invoice.get("status_transitions") or {}).get("paid_at")) or created
    recurring.fill_terms(
        support, frequency=frequency, amount_minor=amount, currency=currency, started_at=None
    )
    recurring.note_paid(support, paid_at)
    recurring.save_recurring(support)
    payments.record_payment(
        payments.PaymentFacts(
            amount_minor=amount,
            currency=currency,
            paid_at=paid_at,
            customer_id=customer_id,
            payment_intent_id=_invoice_payment_intent(invoice),
            invoice_id=invoice["id"],
            subscription_id=subscription_id,
            frequency=frequency,
            price_id=price_id,
        ),
        supporter_id=supporter_id,
        recurring=support,
    )


def _recurring_and_supporter(
    subscription_id: str,
    customer_id: str | None,
    email: str | None,
    metadata: dict[str, Any],
    as_of: datetime,
) -> tuple[Row, int | None]:
    """The subscription's recurring support and supporter. A renewal's were found by
    earlier events, so the supporter and the checkout attempt are looked up only when
    the recurring support does not know them yet, or the event states another email."""
    support, supporter_email = recurring.get_with_supporter_email(subscription_id)
    stated = _email(email)
    if recurring.knows_supporter(support, customer_id) and stated in (None, supporter_email):
        # A renewal under the email held: nothing to look up (the time it was stated again
        # is not kept: only a later *different* address can change it)
        supporter_id = support["supporter_id"]
    else:
        supporter_id = supporters.find_or_create_supporter(
            customer_id=customer_id, email=email, as_of=as_of
        )
    if customer_id and support["stripe_customer_id"] is None:
        support["stripe_customer_id"] = customer_id
    attempt = None
    if support["checkout_attempt_id"] is None:
        attempt = attempts.find_attempt(metadata.get("attempt_id"))
    recurring.link_recurring(support, supporter_id=supporter_id, attempt=attempt)
    return support, supporter_id


def _invoice_payment_subjects(invoice_payment: StripeObject) -> dict[str, str | None]:
    return {
        "invoice": _id(invoice_payment.get("invoice")),
        "payment_intent": _id((invoice_payment.get("payment") or {}).get("payment_intent")),
    }


@handles("invoice_payment.paid", about=_invoice_payment_subjects)
def invoice_payment_paid(invoice_payment: StripeObject, created: datetime) -> None:
    payment = invoice_payment.get("payment") or {}
    payment_intent_id = _id(payment.get("payment_intent"))
    invoice_id = _id(invoice_payment.get("invoice"))
    if payment.get("type") == "payment_intent" and payment_intent_id and invoice_id:
        payments.link_invoice_payment_intent(invoice_id, payment_intent_id)


@handles("invoice.payment_failed", about=_invoice_subjects)
def invoice_payment_failed(invoice: StripeObject, created: datetime) -> None:
    subscription_id, sub_metadata = _invoice_subscription(invoice)
    if not subscription_id:
        return
    customer_id = _id(invoice.get("customer"))
    email = invoice.get("customer_email")
    support, supporter_id = _recurring_and_supporter(
        subscription_id, customer_id, email, sub_metadata, created
    )
    recurring.fill_terms(
        support,
        frequency=_invoice_frequency(invoice, sub_metadata)[1],
        amount_minor=None,
        currency=None,
        started_at=None,
    )
    recurring.mark_past_due(support, created)
    recurring.save_recurring(support)
    amount = invoice.get("amount_due")
    payments.record_failure(
        invoice_id=invoice["id"],
        attempt_count=int(invoice.get("attempt_count") or 1),
        subscription_id=subscription_id,
        customer_id=customer_id,
        recurring=support,
        supporter_id=supporter_id,
        amount_minor=amount if isinstance(amount, int) else 0,
        currency=str(invoice.get("currency") or "").upper(),
        failed_at=created,
    )


# -- Subscriptions -----------------------------------------------------------------------


def _subscription_terms(subscription: StripeObject) -> tuple[int | None, str | None, str | None]:
    """Amount, currency and frequency from the first item's price (or plan, in old shapes)."""
    items = _items(subscription)
    if not items:
        return None, None, None
    item = items[0]
    price = _price_of(item)
    unit_amount = price.get("unit_amount", price.get("amount"))
    quantity = item.get("quantity") or 1
    amount = unit_amount * quantity if isinstance(unit_amount, int) else None
    currency = str(price.get("currency") or "").upper() or None
    return amount, currency, Frequency.from_interval(_interval(price))


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    about=lambda subscription: {
        "subscription": _id(subscription.get("id")),
        "customer": _id(subscription.get("customer")),
        "price": _subscription_price(subscription),
    },
)
def subscription_changed(subscription: StripeObject, created: datetime) -> None:
    customer_id = _id(subscription.get("customer"))
    metadata = subscription.get("metadata") or {}
    support, _ = _recurring_and_supporter(subscription["id"], customer_id, None, metadata, created)
    for item in _items(subscription):
        price = _price_of(item)
        prices.learn_price(_id(price), _interval(price))
    amount, currency, interval_frequency = _subscription_terms(subscription)
    recurring.apply_state(
        support,
        SubscriptionState(
            status=str(subscription.get("status") or "incomplete"),
            as_of=created,
            amount_minor=amount,
            currency=currency,
            frequency=interval_frequency or _frequency(metadata),
            cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
            canceled_at=_timestamp(subscription.get("canceled_at")),
            ended_at=_timestamp(subscription.get("ended_at")),
            started_at=_timestamp(subscription.get("start_date")),
            current_period_end=_current_period_end(subscription),
            **_paused_collection(subscription),
        ),
    )
    recurring.save_recurring(support)


def _current_period_end(subscription: StripeObject) -> datetime | None:
    """When the paid period ends: on each item since the 2025 "basil" API versions (the
    first item's; they share one billing cycle), on the subscription itself before."""
    items = _items(subscription)
    on_item = _timestamp(items[0].get("current_period_end")) if items else None
    return on_item or _timestamp(subscription.get("current_period_end"))


def _paused_collection(subscription: StripeObject) -> dict[str, Any]:
    """Stripe's ``pause_collection`` (``null`` when collecting): paused, and until when."""
    pause = subscription.get("pause_collection")
    if not isinstance(pause, dict):
        return {"collection_paused": False, "collection_resumes_at": None}
    return {
        "collection_paused": True,
        "collection_resumes_at": _timestamp(pause.get("resumes_at")),
    }


def _subscription_price(subscription: StripeObject) -> str | None:
    items = _items(subscription)
    return _id(_price_of(items[0])) if items else None


# -- Customers ---------------------------------------------------------------------------


@handles(
    "customer.created",
    "customer.updated",
    about=lambda customer: {
        "customer": _id(customer.get("id")),
        "email": _email(customer.get("email")),
    },
)
def customer_changed(customer: StripeObject, created: datetime) -> None:
    """The customer's email as Stripe has it now: their supporter follows it."""
    customer_id = _id(customer.get("id"))
    if customer_id:
        supporters.restate_email(customer_id, customer.get("email"), created)


# -- Refunds and disputes ----------------------------------------------------------------


@handles(
    "charge.refunded",
    about=lambda charge: {
        "payment_intent": _id(charge.get("payment_intent")),
        "charge": _id(charge.get("id")),
    },
)
def charge_refunded(charge: StripeObject, created: datetime) -> None:
    payment_intent_id = _id(charge.get("payment_intent"))
    if not payment_intent_id:
        return  # a charge outside any payment intent was never a gift through this app
    payments.record_refunds(
        payment_intent_id, _id(charge.get("id")), int(charge.get("amount_refunded") or 0)
    )


_DISPUTE_EVENTS = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)


@looks_up(*_DISPUTE_EVENTS)
def find_disputed_payment_intent(dispute: StripeObject) -> None:
    """A dispute names its payment intent since 2023; an older shape names only the charge.
    Learn the intent from a refund we recorded for that charge, else from Stripe."""
    charge_id = _id(dispute.get("charge"))
    if _id(dispute.get("payment_intent")) or not charge_id:
        return
    payment_intent_id = payments.payment_intent_of_charge(charge_id)
    if not payment_intent_id:
        try:
            charge = stripe_gateway.retrieve_charge(current_settings(), charge_id)
        except stripe_gateway.NotFound:
            return  # not a charge of this account: nothing of ours to adjust
        except stripe_gateway.GatewayError as exc:
            raise RetryLater("could not look up the disputed charge") from exc
        payment_intent_id = _id(charge.get("payment_intent"))
    if payment_intent_id:
        dispute["payment_intent"] = payment_intent_id


@handles(
    *_DISPUTE_EVENTS,
    about=lambda dispute: {
        "payment_intent": _id(dispute.get("payment_intent")),
        "charge": _id(dispute.get("charge")),
    },
)
def charge_dispute(dispute: StripeObject, created: datetime) -> None:
    """Its payment intent was found before the transaction (``find_disputed_payment_intent``)
    when the dispute does not name it."""
    payment_intent_id = _id(dispute.get("payment_intent"))
    if not payment_intent_id:
        return  # a charge outside any payment intent, or one Stripe does not know
    payments.record_dispute(
        payment_intent_id,
        _id(dispute.get("charge")),
        str(dispute.get("status") or "needs_response"),
        int(dispute.get("amount") or 0),
        created,
    )
