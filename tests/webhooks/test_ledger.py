"""What each Stripe event does to the ledger, in the order Stripe may deliver it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.extensions import db
from membership.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    StripeEvent,
    Supporter,
)
from membership.webhooks import handlers
from tests import stripe_events as se
from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe

T0 = se.BASE_TIME


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def deliver_all(client: FlaskClient, *events: dict) -> None:
    for evt in events:
        response = se.deliver(client, evt)
        assert response.status_code == 200, response.get_data(as_text=True)


def the(model: type) -> object:
    db.session.rollback()  # a fresh read: see what the app committed
    return db.session.scalars(select(model)).one()


def open_attempt(client: FlaskClient, **choice: str) -> CheckoutAttempt:
    """A real press of Continue, so the attempt and its attribution exist as in production."""
    response = post_checkout(client, **choice)
    assert response.status_code == 303
    return db.session.scalars(
        select(CheckoutAttempt).order_by(CheckoutAttempt.created_at.desc())
    ).first()


def test_one_time_gift_records_supporter_payment_and_attribution(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    attempt = open_attempt(
        client,
        frequency="once",
        currency="EUR",
        amount="25",
        source="https://news.example/a",
        utm_campaign="winter",
    )
    session = se.checkout_session(
        mode="payment",
        amount=2500,
        currency="eur",
        attempt_id=attempt.id,
        frequency="once",
        email="Reader@Example.org",
        payment_intent="pi_once",
        session_id=attempt.stripe_session_id,
        name="A Reader",
    )
    deliver_all(client, se.event("checkout.session.completed", session, created=T0 + 5))

    supporter = the(Supporter)  # the payer's name is not kept (tests/webhooks/test_payloads.py)
    assert (supporter.email, supporter.stripe_customer_id) == ("reader@example.org", None)
    payment = the(Payment)
    assert (payment.amount_minor, payment.currency, payment.frequency) == (2500, "EUR", "once")
    assert (payment.status, payment.amount_refunded_minor, payment.net_minor) == (
        "succeeded",
        0,
        2500,
    )
    assert payment.stripe_payment_intent_id == "pi_once" and payment.stripe_invoice_id is None
    assert payment.paid_at == at(5)
    assert payment.supporter_id == supporter.id
    assert (payment.source, payment.utm_campaign, payment.checkout_attempt_id) == (
        "https://news.example/a",
        "winter",
        attempt.id,
    )
    db.session.refresh(attempt)
    assert (attempt.status, attempt.supporter_id) == ("paid", supporter.id)


def test_session_from_a_payment_link_is_recorded_without_source(
    client: FlaskClient, app_ctx: None
) -> None:
    session = se.checkout_session(mode="payment", amount=1000, payment_intent="pi_link")
    deliver_all(client, se.event("checkout.session.completed", session))
    payment = the(Payment)
    assert payment.amount_minor == 1000 and payment.source is None
    assert payment.checkout_attempt_id is None


def test_async_payment_waits_for_success(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    attempt = open_attempt(client, frequency="once", currency="USD", amount="25")
    kwargs = dict(
        mode="payment",
        amount=2500,
        attempt_id=attempt.id,
        frequency="once",
        payment_intent="pi_sepa",
        session_id=attempt.stripe_session_id,
    )
    deliver_all(
        client,
        se.event(
            "checkout.session.completed", se.checkout_session(payment_status="unpaid", **kwargs)
        ),
    )
    assert db.session.scalars(select(Payment)).all() == []
    db.session.refresh(attempt)
    assert attempt.status == "awaiting_payment"

    deliver_all(
        client,
        se.event(
            "checkout.session.async_payment_succeeded",
            se.checkout_session(**kwargs),
            created=T0 + 86400,
        ),
    )
    assert the(Payment).amount_minor == 2500
    db.session.refresh(attempt)
    assert attempt.status == "paid"


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("checkout.session.async_payment_failed", "payment_failed"),
        ("checkout.session.expired", "expired"),
    ],
)
def test_failed_or_expired_session_marks_the_attempt(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None, event_type: str, status: str
) -> None:
    attempt = open_attempt(client, frequency="monthly", currency="USD", amount="5")
    session = se.checkout_session(
        mode="subscription",
        amount=500,
        attempt_id=attempt.id,
        payment_status="unpaid",
        status="expired",
        session_id=attempt.stripe_session_id,
    )
    deliver_all(client, se.event(event_type, session))
    db.session.refresh(attempt)
    assert attempt.status == status
    assert db.session.scalars(select(Payment)).all() == []


def monthly_events(attempt: CheckoutAttempt | None = None) -> dict[str, dict]:
    attempt_id = attempt.id if attempt else None
    session_id = attempt.stripe_session_id if attempt else None
    return {
        "completed": se.event(
            "checkout.session.completed",
            se.checkout_session(
                mode="subscription",
                amount=500,
                attempt_id=attempt_id,
                frequency="monthly",
                customer="cus_m",
                subscription="sub_m",
                session_id=session_id,
            ),
            created=T0 + 2,
        ),
        "created": se.event(
            "customer.subscription.created",
            se.subscription(
                subscription_id="sub_m",
                customer="cus_m",
                amount=500,
                attempt_id=attempt_id,
                frequency="monthly",
                status="active",
            ),
            created=T0 + 1,
        ),
        "invoice": se.event(
            "invoice.paid",
            se.invoice(
                invoice_id="in_m1",
                subscription="sub_m",
                customer="cus_m",
                amount=500,
                paid_at=T0 + 1,
                attempt_id=attempt_id,
                frequency="monthly",
                billing_reason="subscription_create",
            ),
            created=T0 + 1,
        ),
        "invoice_payment": se.event(
            "invoice_payment.paid",
            se.invoice_payment(invoice_id="in_m1", payment_intent="pi_m1", amount=500),
            created=T0 + 1,
        ),
    }


@pytest.mark.parametrize(
    "order",
    [
        ["completed", "created", "invoice", "invoice_payment"],
        ["invoice", "invoice_payment", "created", "completed"],
        ["invoice_payment", "invoice", "completed", "created"],
        ["created", "invoice_payment", "completed", "invoice"],
    ],
    ids=lambda order: ">".join(order),
)
def test_new_monthly_supporter_in_any_order(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None, order: list[str]
) -> None:
    attempt = open_attempt(
        client, frequency="monthly", currency="USD", amount="5", source="campaign-x"
    )
    events = monthly_events(attempt)
    deliver_all(client, *(events[name] for name in order))

    supporter = the(Supporter)
    assert (supporter.email, supporter.stripe_customer_id) == ("reader@example.org", "cus_m")
    support = the(RecurringSupport)
    assert (support.stripe_subscription_id, support.status, support.frequency) == (
        "sub_m",
        "active",
        "monthly",
    )
    assert (support.amount_minor, support.currency) == (500, "USD")
    assert support.supporter_id == supporter.id and support.source == "campaign-x"
    assert support.started_at == at(0)
    payment = the(Payment)
    assert (payment.stripe_invoice_id, payment.stripe_payment_intent_id) == ("in_m1", "pi_m1")
    assert (payment.amount_minor, payment.frequency, payment.source) == (
        500,
        "monthly",
        "campaign-x",
    )
    assert payment.recurring_support_id == support.id and payment.supporter_id == supporter.id
    assert payment.paid_at == at(1)


def test_each_renewal_is_recorded_once_per_invoice(client: FlaskClient, app_ctx: None) -> None:
    renewal = se.event(
        "invoice.paid",
        se.invoice(
            invoice_id="in_r2",
            subscription="sub_r",
            customer="cus_r",
            amount=1000,
            paid_at=T0 + 31 * 86400,
            frequency="monthly",
        ),
        created=T0 + 31 * 86400,
    )
    also_sent = se.event(
        "invoice.payment_succeeded", renewal["data"]["object"], created=T0 + 31 * 86400
    )
    deliver_all(client, renewal, also_sent)
    payment = the(Payment)
    assert payment.stripe_invoice_id == "in_r2" and payment.amount_minor == 1000
    # Stripe's subscription id lives under invoice.parent.subscription_details now
    assert payment.stripe_subscription_id == "sub_r"


def test_older_subscription_update_never_undoes_a_newer_one(
    client: FlaskClient, app_ctx: None
) -> None:
    canceled = se.event(
        "customer.subscription.deleted",
        se.subscription(
            subscription_id="sub_o",
            customer="cus_o",
            amount=500,
            status="canceled",
            canceled_at=T0 + 100,
            ended_at=T0 + 100,
        ),
        created=T0 + 100,
    )
    older = se.event(
        "customer.subscription.updated",
        se.subscription(subscription_id="sub_o", customer="cus_o", amount=700, status="active"),
        created=T0 + 50,
    )
    deliver_all(client, canceled, older)
    support = the(RecurringSupport)
    assert support.status == "canceled" and support.amount_minor == 500
    assert support.canceled_at == at(100) and support.ended_at == at(100)


def test_subscription_update_changes_amount_interval_and_cancellation(
    client: FlaskClient, app_ctx: None
) -> None:
    deliver_all(
        client,
        se.event(
            "customer.subscription.created",
            se.subscription(subscription_id="sub_u", customer="cus_u", amount=500),
            created=T0,
        ),
        se.event(
            "customer.subscription.updated",
            se.subscription(
                subscription_id="sub_u",
                customer="cus_u",
                amount=5000,
                interval="year",
                cancel_at_period_end=True,
                canceled_at=T0 + 10,
            ),
            created=T0 + 10,
        ),
    )
    support = the(RecurringSupport)
    assert (support.amount_minor, support.frequency, support.cancel_at_period_end) == (
        5000,
        "annual",
        True,
    )
    assert support.canceled_at == at(10) and support.status == "active"


def test_failed_renewal_marks_past_due_and_is_recorded_once(
    client: FlaskClient, app_ctx: None
) -> None:
    failed = se.event(
        "invoice.payment_failed",
        se.invoice(
            invoice_id="in_f",
            subscription="sub_f",
            customer="cus_f",
            amount=500,
            status="open",
            attempt_count=1,
            email="late@example.org",
        ),
        created=T0 + 10,
    )
    deliver_all(
        client,
        se.event(
            "customer.subscription.created",
            se.subscription(subscription_id="sub_f", customer="cus_f", amount=500),
            created=T0,
        ),
        failed,
        se.event("invoice.payment_failed", failed["data"]["object"], created=T0 + 10),
    )
    support = the(RecurringSupport)
    assert support.status == "past_due"
    failure = the(PaymentFailure)
    assert (failure.stripe_invoice_id, failure.amount_minor, failure.currency) == (
        "in_f",
        500,
        "USD",
    )
    assert failure.recurring_support_id == support.id and failure.failed_at == at(10)
    assert failure.supporter_id == the(Supporter).id
    assert db.session.scalars(select(Payment)).all() == []

    deliver_all(
        client,
        se.event(
            "customer.subscription.updated",
            se.subscription(subscription_id="sub_f", customer="cus_f", amount=500, status="active"),
            created=T0 + 20,
        ),
    )
    assert the(RecurringSupport).status == "active"


def one_time_gift(client: FlaskClient, pi: str = "pi_adj", amount: int = 5000) -> None:
    deliver_all(
        client,
        se.event(
            "checkout.session.completed",
            se.checkout_session(mode="payment", amount=amount, payment_intent=pi),
            created=T0,
        ),
    )


def test_partial_then_full_refund(client: FlaskClient, app_ctx: None) -> None:
    one_time_gift(client)
    deliver_all(
        client,
        se.event(
            "charge.refunded",
            se.charge(
                payment_intent="pi_adj", amount=5000, amount_refunded=1500, charge_id="ch_adj"
            ),
            created=T0 + 10,
        ),
    )
    payment = the(Payment)
    assert (payment.status, payment.amount_refunded_minor, payment.net_minor) == (
        "partially_refunded",
        1500,
        3500,
    )
    deliver_all(
        client,
        se.event(
            "charge.refunded",
            se.charge(
                payment_intent="pi_adj", amount=5000, amount_refunded=5000, charge_id="ch_adj"
            ),
            created=T0 + 20,
        ),
    )
    payment = the(Payment)
    assert (payment.status, payment.amount_refunded_minor, payment.net_minor) == (
        "refunded",
        5000,
        0,
    )


def test_refund_arriving_before_the_payment_still_applies(
    client: FlaskClient, app_ctx: None
) -> None:
    deliver_all(
        client,
        se.event(
            "charge.refunded",
            se.charge(payment_intent="pi_early", amount=5000, amount_refunded=2000),
            created=T0 + 10,
        ),
    )
    one_time_gift(client, pi="pi_early")
    payment = the(Payment)
    assert (payment.status, payment.amount_refunded_minor) == ("partially_refunded", 2000)


def test_older_refund_total_never_lowers_a_newer_one(client: FlaskClient, app_ctx: None) -> None:
    one_time_gift(client)
    for refunded, created in ((5000, 20), (1500, 10)):
        deliver_all(
            client,
            se.event(
                "charge.refunded",
                se.charge(payment_intent="pi_adj", amount=5000, amount_refunded=refunded),
                created=T0 + created,
            ),
        )
    assert the(Payment).amount_refunded_minor == 5000


@pytest.mark.parametrize(
    ("closing_status", "final_status", "net"),
    [("won", "succeeded", 5000), ("lost", "dispute_lost", 0)],
)
def test_dispute_holds_money_until_closed(
    client: FlaskClient, app_ctx: None, closing_status: str, final_status: str, net: int
) -> None:
    one_time_gift(client)
    opened = se.event(
        "charge.dispute.created",
        se.dispute(payment_intent="pi_adj", charge_id="ch_d", amount=5000, status="needs_response"),
        created=T0 + 10,
    )
    closed = se.event(
        "charge.dispute.closed",
        se.dispute(payment_intent="pi_adj", charge_id="ch_d", amount=5000, status=closing_status),
        created=T0 + 20,
    )
    deliver_all(client, opened)
    payment = the(Payment)
    assert (payment.status, payment.net_minor) == ("disputed", 0)
    deliver_all(client, closed, opened)  # a late redelivery of the opening changes nothing
    payment = the(Payment)
    assert (payment.status, payment.net_minor, payment.dispute_status) == (
        final_status,
        net,
        closing_status,
    )


def test_dispute_without_payment_intent_is_found_through_its_charge(
    client: FlaskClient, app_ctx: None
) -> None:
    one_time_gift(client)
    deliver_all(
        client,
        se.event(
            "charge.refunded",
            se.charge(
                payment_intent="pi_adj", amount=5000, amount_refunded=0, charge_id="ch_known"
            ),
            created=T0 + 5,
        ),
        se.event(
            "charge.dispute.created",
            se.dispute(
                payment_intent=None, charge_id="ch_known", amount=5000, status="needs_response"
            ),
            created=T0 + 10,
        ),
    )
    assert the(Payment).status == "disputed"


def test_dispute_on_unknown_charge_asks_stripe_for_its_payment_intent(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    one_time_gift(client)
    stripe.charges["ch_lookup"] = se.charge(
        payment_intent="pi_adj", amount=5000, amount_refunded=0, charge_id="ch_lookup"
    )
    deliver_all(
        client,
        se.event(
            "charge.dispute.created",
            se.dispute(
                payment_intent=None, charge_id="ch_lookup", amount=5000, status="needs_response"
            ),
        ),
    )
    assert the(Payment).status == "disputed"
    assert len(stripe.calls("GET", "/v1/charges/ch_lookup")) == 1


def dispute_during_outage(client: FlaskClient, stripe: FakeStripe, charge_id: str) -> dict:
    """A gift, then a dispute naming only its charge while Stripe is down: answered 500."""
    one_time_gift(client)
    stripe.fail_with = 500
    evt = se.event(
        "charge.dispute.created",
        se.dispute(payment_intent=None, charge_id=charge_id, amount=5000, status="needs_response"),
    )
    assert se.deliver(client, evt).status_code == 500
    return evt


def test_dispute_lookup_during_stripe_outage_asks_for_a_retry(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    evt = dispute_during_outage(client, stripe, "ch_later")
    stripe.fail_with = None
    stripe.charges["ch_later"] = se.charge(
        payment_intent="pi_adj", amount=5000, amount_refunded=0, charge_id="ch_later"
    )
    assert se.deliver(client, evt).status_code == 200
    assert the(Payment).status == "disputed"


def test_stripe_is_asked_about_a_disputed_charge_before_the_ledger_transaction(
    app: Flask, client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    """While Stripe is looked up, other events go through: the look-up holds no lock of the
    ledger (on SQLite, the one writer's turn, which every event would wait for)."""
    one_time_gift(client)
    stripe.charges["ch_slow"] = se.charge(
        payment_intent="pi_adj", amount=5000, amount_refunded=0, charge_id="ch_slow"
    )
    other_gift = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=700, payment_intent="pi_meanwhile"),
    )
    went_through_meanwhile: list[bool] = []

    def deliver_another_event() -> None:
        answered = threading.Event()

        def deliver() -> None:
            with app.app_context():
                if se.deliver(app.test_client(), other_gift).status_code == 200:
                    answered.set()

        threading.Thread(target=deliver, daemon=True).start()
        went_through_meanwhile.append(answered.wait(timeout=5))

    stripe.while_answering = deliver_another_event
    dispute = se.dispute(
        payment_intent=None, charge_id="ch_slow", amount=5000, status="needs_response"
    )
    assert se.deliver(client, se.event("charge.dispute.created", dispute)).status_code == 200
    assert went_through_meanwhile == [True]
    db.session.expire_all()
    assert db.session.scalars(select(Payment.status).order_by(Payment.amount_minor)).all() == [
        "succeeded",
        "disputed",
    ]


def test_a_processed_event_redelivered_while_stripe_is_down_is_a_duplicate(
    client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    """A dispute on a charge Stripe knows no payment intent for is processed (nothing of ours
    to adjust); its redelivery during an outage changes nothing and answers 200."""
    stripe.charges["ch_bare"] = se.charge(
        payment_intent=None, amount=5000, amount_refunded=0, charge_id="ch_bare"
    )
    evt = se.event(
        "charge.dispute.created",
        se.dispute(payment_intent=None, charge_id="ch_bare", amount=5000, status="lost"),
    )
    assert se.deliver(client, evt).get_json()["outcome"] == "processed"
    stripe.fail_with = 500
    again = se.deliver(client, evt)
    assert (again.status_code, again.get_json()["outcome"]) == (200, "duplicate")
    assert len(stripe.calls("GET", "/v1/charges/ch_bare")) == 1  # not asked again
    db.session.expire_all()
    stored = db.session.get(StripeEvent, evt["id"])
    assert stored is not None
    assert (stored.status, stored.attempts, stored.last_error) == ("processed", 1, None)


def test_a_failing_look_up_before_the_transaction_keeps_the_event_as_failed(
    client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only an outage: whatever goes wrong while looking up ahead is kept like a handler's
    failure (500, the event stored with its error), and Stripe's retry then succeeds."""
    one_time_gift(client)

    def broken(dispute: dict) -> None:
        raise RuntimeError("look-up bug")

    original = handlers.LOOK_UPS["charge.dispute.created"]
    monkeypatch.setitem(handlers.LOOK_UPS, "charge.dispute.created", broken)
    evt = se.event(
        "charge.dispute.created",
        se.dispute(payment_intent="pi_adj", charge_id="ch_x", amount=5000, status="lost"),
    )
    assert se.deliver(client, evt).status_code == 500
    db.session.expire_all()
    stored = db.session.get(StripeEvent, evt["id"])
    assert stored is not None
    assert (stored.status, stored.last_error) == ("failed", "RuntimeError: look-up bug")

    monkeypatch.setitem(handlers.LOOK_UPS, "charge.dispute.created", original)
    assert se.deliver(client, evt).get_json()["outcome"] == "processed"
    assert the(Payment).status == "dispute_lost"


def test_replay_while_stripe_is_down_says_so_and_changes_nothing(
    app: Flask, client: FlaskClient, stripe: FakeStripe, app_ctx: None
) -> None:
    evt = dispute_during_outage(client, stripe, "ch_down")
    result = app.test_cli_runner().invoke(args=["stripe", "replay", evt["id"]])
    assert result.exit_code == 1
    assert "could not look up the disputed charge; nothing changed, try again later" in (
        result.output
    )
    db.session.expire_all()
    stored = db.session.get(StripeEvent, evt["id"])
    assert stored is not None
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert stored.last_error == "RetryLater: could not look up the disputed charge"


def test_renewal_refund_is_matched_through_the_invoice_payment(
    client: FlaskClient, app_ctx: None
) -> None:
    events = monthly_events()
    deliver_all(
        client,
        se.event(
            "charge.refunded",
            se.charge(payment_intent="pi_m1", amount=500, amount_refunded=500),
            created=T0 + 50,
        ),
        events["invoice"],
        events["invoice_payment"],
    )
    payment = the(Payment)
    assert (payment.stripe_payment_intent_id, payment.status, payment.net_minor) == (
        "pi_m1",
        "refunded",
        0,
    )


def test_supporter_found_by_email_learns_the_customer(client: FlaskClient, app_ctx: None) -> None:
    deliver_all(
        client,
        se.event(
            "checkout.session.completed",
            se.checkout_session(
                mode="payment", amount=1000, payment_intent="pi_e", email="same@example.org"
            ),
        ),
    )
    deliver_all(
        client,
        se.event(
            "customer.subscription.created",
            se.subscription(subscription_id="sub_e", customer="cus_e", amount=500),
        ),
        se.event(
            "invoice.paid",
            se.invoice(
                invoice_id="in_e",
                subscription="sub_e",
                customer="cus_e",
                amount=500,
                email="SAME@example.org",
                paid_at=T0,
            ),
        ),
    )
    supporter = the(Supporter)
    assert supporter.stripe_customer_id == "cus_e"
    support = the(RecurringSupport)
    assert support.supporter_id == supporter.id
    assert {p.supporter_id for p in db.session.scalars(select(Payment))} == {supporter.id}


@pytest.mark.parametrize("failure_first", [True, False])
def test_same_second_failure_and_recovery_agree_in_any_order(
    client: FlaskClient, app_ctx: None, failure_first: bool
) -> None:
    failed = se.event(
        "invoice.payment_failed",
        se.invoice(
            invoice_id="in_tie",
            subscription="sub_tie",
            customer="cus_tie",
            amount=500,
            status="open",
        ),
        created=T0 + 10,
    )
    active = se.event(
        "customer.subscription.updated",
        se.subscription(subscription_id="sub_tie", customer="cus_tie", amount=500, status="active"),
        created=T0 + 10,
    )
    deliver_all(client, *((failed, active) if failure_first else (active, failed)))
    assert the(RecurringSupport).status == "past_due"


def test_unstorable_email_does_not_block_the_payment(client: FlaskClient, app_ctx: None) -> None:
    long_email = "a" * 250 + "@example.org"
    deliver_all(
        client,
        se.event(
            "checkout.session.completed",
            se.checkout_session(
                mode="payment", amount=1000, payment_intent="pi_long", email=long_email
            ),
        ),
    )
    assert the(Payment).amount_minor == 1000
    assert db.session.scalars(select(Supporter)).all() == []
