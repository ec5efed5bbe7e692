"""The ledger says what Stripe says: the price charged over Checkout's metadata, trials from
their first paid invoice, and the customer's current email, in either order of events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from membership import clock
from membership.extensions import db
from membership.models import Payment, PendingCustomerEmail, RecurringSupport, Supporter
from membership.reports import export
from membership.reports.dashboard import dashboard
from membership.reports.periods import Period
from membership.webhooks import service
from tests import stripe_events as se

T0 = se.BASE_TIME  # 2026-09-21 14:13:20 UTC
DAY = 86_400
SEPTEMBER, OCTOBER = Period("2026-09", "2026-09"), Period("2026-10", "2026-10")
BOTH_ORDERS = pytest.mark.parametrize("order", ["as sent", "reversed"])


def deliver_all(client: FlaskClient, events: list[dict[str, Any]], order: str) -> None:
    for evt in events if order == "as sent" else list(reversed(events)):
        response = se.deliver(client, evt)
        assert response.status_code == 200, response.get_data(as_text=True)


def eur(currency_figures: Any) -> Any:
    return {c.currency: c for c in currency_figures}["EUR"]


def a_switch_from_monthly_to_annual() -> list[dict[str, Any]]:
    """EUR 10 a month from Checkout (metadata says monthly), then EUR 100 a year."""
    common = dict(subscription_id="sub_sw", customer="cus_sw", currency="eur")
    checkout_metadata = dict(attempt_id="a" * 32, frequency="monthly")
    monthly = dict(amount=1000, interval="month", price="price_sw_month")
    annual = dict(amount=10000, interval="year", price="price_sw_year")
    invoice = dict(subscription="sub_sw", customer="cus_sw", currency="eur", **checkout_metadata)
    return [
        se.event(
            "customer.subscription.created",
            se.subscription(**common, **monthly, **checkout_metadata, start_date=T0),
            created=T0,
        ),
        se.event(
            "invoice.paid",
            se.invoice(invoice_id="in_sw_1", amount=1000, price="price_sw_month", **invoice),
            created=T0,
        ),
        # Ten days on: the year less the unused part of the month, charged at once.
        se.event(
            "invoice.paid",
            se.invoice(
                invoice_id="in_sw_2",
                amount=9645,
                price="price_sw_year",
                billing_reason="subscription_update",
                **invoice,
            ),
            created=T0 + 10 * DAY,
        ),
        se.event(
            "customer.subscription.updated",
            se.subscription(**common, **annual, **checkout_metadata, start_date=T0),
            created=T0 + 10 * DAY,
        ),
    ]


@BOTH_ORDERS
def test_a_gift_switched_to_annual_is_annual_from_the_switch(
    client: FlaskClient, app_ctx: None, order: str
) -> None:
    deliver_all(client, a_switch_from_monthly_to_annual(), order)
    frequencies = {p.stripe_invoice_id: p.frequency for p in db.session.scalars(select(Payment))}
    assert frequencies == {"in_sw_1": "monthly", "in_sw_2": "annual"}
    support = db.session.scalars(select(RecurringSupport)).one()
    assert (support.frequency, support.amount_minor) == ("annual", 10000)
    recurring = eur(dashboard(OCTOBER).currencies).recurring
    assert (recurring.active, recurring.mrr_minor, recurring.arr_minor) == (1, 833, 10000)


@BOTH_ORDERS
def test_a_dashboard_subscription_learns_its_frequency_from_its_price(
    client: FlaskClient, app_ctx: None, order: str
) -> None:
    """No attempt of ours, no metadata, the invoice before the subscription (or after)."""
    events = [
        se.event(
            "invoice.paid",
            se.invoice(
                invoice_id="in_dash", subscription="sub_dash", customer="cus_dash", amount=5000
            ),
            created=T0,
        ),
        se.event(
            "customer.subscription.created",
            se.subscription(
                subscription_id="sub_dash", customer="cus_dash", amount=5000, interval="year"
            ),
            created=T0 + 1,
        ),
    ]
    for invoice in (events[0]["data"]["object"],):
        invoice["lines"]["data"][0]["pricing"]["price_details"]["price"] = "price_sub_dash_year"
    deliver_all(client, events, order)
    assert db.session.scalars(select(Payment.frequency)).one() == "annual"
    rows = list(export.payment_rows())
    assert rows[1].split(",")[10] == "annual"
    assert list(export.supporter_rows())[1].rstrip("\r\n").endswith(",active,annual")


def a_trial(*, ends: str) -> list[dict[str, Any]]:
    common = dict(subscription_id="sub_tr", customer="cus_tr", amount=500, currency="eur")
    trial = dict(start_date=T0, trial_end=T0 + 14 * DAY)
    events = [
        se.event(
            "customer.subscription.created",
            se.subscription(**common, status="trialing", **trial),
            created=T0,
        ),
        se.event(
            "invoice.paid",
            se.invoice(
                invoice_id="in_tr_0",
                subscription="sub_tr",
                customer="cus_tr",
                amount=0,
                currency="eur",
                billing_reason="subscription_create",
            ),
            created=T0,
        ),
    ]
    ended_at = T0 + 14 * DAY
    if ends == "cancelled in its trial":
        events.append(
            se.event(
                "customer.subscription.deleted",
                se.subscription(
                    **common, status="canceled", canceled_at=ended_at, ended_at=ended_at, **trial
                ),
                created=ended_at,
            )
        )
    else:
        events += [
            se.event(
                "invoice.paid",
                se.invoice(
                    invoice_id="in_tr_1",
                    subscription="sub_tr",
                    customer="cus_tr",
                    amount=500,
                    currency="eur",
                    paid_at=ended_at,
                ),
                created=ended_at,
            ),
            se.event(
                "customer.subscription.updated",
                se.subscription(**common, status="active", **trial),
                created=ended_at,
            ),
        ]
    return events


@BOTH_ORDERS
def test_a_trial_counts_from_its_first_paid_invoice(
    client: FlaskClient, app_ctx: None, order: str
) -> None:
    deliver_all(client, a_trial(ends="paid"), order)
    september, october = eur(dashboard(SEPTEMBER).currencies), eur(dashboard(OCTOBER).currencies)
    assert (september.recurring.active, september.recurring.started) == (0, 0)
    assert (october.recurring.active, october.recurring.started) == (1, 1)
    assert october.recurring.mrr_minor == 500


@BOTH_ORDERS
def test_a_trial_cancelled_unpaid_never_counts(
    client: FlaskClient, app_ctx: None, order: str
) -> None:
    deliver_all(client, a_trial(ends="cancelled in its trial"), order)
    for period in (SEPTEMBER, OCTOBER):
        figures = {c.currency: c for c in dashboard(period).currencies}
        recurring = figures["EUR"].recurring if "EUR" in figures else None
        assert recurring is None or (recurring.active, recurring.started, recurring.ended) == (
            0,
            0,
            0,
        )
    assert db.session.scalars(select(Payment)).all() == []


@BOTH_ORDERS
def test_a_supporter_follows_their_customers_current_email(
    client: FlaskClient, app_ctx: None, order: str
) -> None:
    """Opened as Old.Name@, changed in Stripe to new.name@, a renewal, and a guest gift from
    the new address: one supporter, under the new address, in either order."""
    sub = dict(subscription="sub_em", customer="cus_em", amount=700)
    events = [
        se.event(
            "checkout.session.completed",
            se.checkout_session(
                mode="subscription",
                amount=700,
                email="Old.Name@example.org",
                customer="cus_em",
                subscription="sub_em",
            ),
            created=T0,
        ),
        se.event(
            "invoice.paid",
            se.invoice(invoice_id="in_em_1", email="Old.Name@example.org", **sub),
            created=T0,
        ),
        se.event(
            "customer.updated",
            se.customer(customer_id="cus_em", email="new.name@example.org"),
            created=T0 + DAY,
        ),
        se.event(
            "invoice.paid",
            se.invoice(invoice_id="in_em_2", email="new.name@example.org", **sub),
            created=T0 + 30 * DAY,
        ),
        se.event(
            "checkout.session.completed",
            se.checkout_session(
                mode="payment",
                amount=1500,
                email="new.name@example.org",
                payment_intent="pi_em_guest",
            ),
            created=T0 + 31 * DAY,
        ),
    ]
    deliver_all(client, events, order)
    supporter = db.session.scalars(select(Supporter)).one()
    assert (supporter.email, supporter.stripe_customer_id) == ("new.name@example.org", "cus_em")
    assert {p.supporter_id for p in db.session.scalars(select(Payment))} == {supporter.id}


def test_an_email_change_before_any_gift_waits_for_the_gift(
    client: FlaskClient, app_ctx: None
) -> None:
    """``customer.updated`` for a customer we know nothing of keeps no supporter; their gift,
    arriving later with the older address, takes the newer one."""
    deliver_all(
        client,
        [
            se.event(
                "customer.updated",
                se.customer(customer_id="cus_pe", email="later@example.org"),
                created=T0 + DAY,
            )
        ],
        "as sent",
    )
    assert db.session.scalars(select(Supporter)).all() == []
    deliver_all(
        client,
        [
            se.event(
                "checkout.session.completed",
                se.checkout_session(
                    mode="subscription",
                    amount=700,
                    email="earlier@example.org",
                    customer="cus_pe",
                    subscription="sub_pe",
                ),
                created=T0,
            )
        ],
        "as sent",
    )
    assert db.session.scalars(select(Supporter.email)).one() == "later@example.org"


def test_the_dashboard_counts_failed_attempts_and_says_so(
    client: FlaskClient, app_ctx: None, signed_in_client: Callable[..., Any]
) -> None:
    """One invoice failing three times (Stripe's retries) is three failed attempts."""
    failures = [
        se.event(
            "invoice.payment_failed",
            se.invoice(
                invoice_id="in_fail",
                subscription="sub_fail",
                customer="cus_fail",
                amount=500,
                currency="eur",
                status="open",
                attempt_count=n,
            ),
            created=T0 + n * DAY,
        )
        for n in (1, 2, 3)
    ]
    first = se.invoice(
        invoice_id="in_paid",
        subscription="sub_fail",
        customer="cus_fail",
        amount=500,
        currency="eur",
    )
    deliver_all(client, [se.event("invoice.paid", first, created=T0), *failures], "as sent")
    assert eur(dashboard(SEPTEMBER).currencies).failures.count == 3
    page = signed_in_client("viewer").get("/staff/?from=2026-09").get_data(as_text=True)
    assert "Failed payment attempts</th><td>3 (€15.00)" in page


def test_first_paid_at_is_the_earliest_paid_invoice(client: FlaskClient, app_ctx: None) -> None:
    deliver_all(client, a_trial(ends="paid"), "reversed")
    support = db.session.scalars(select(RecurringSupport)).one()
    assert support.first_paid_at == datetime.fromtimestamp(T0 + 14 * DAY, UTC)


def test_a_time_past_year_9999_inside_an_object_is_not_known_not_a_failure(
    client: FlaskClient, app_ctx: None
) -> None:
    """A signed event whose subscription says it ended in year 3 million: recorded, the
    time left unknown, instead of a 500 that Stripe would retry for days."""
    subscription = se.subscription(
        subscription_id="sub_far", customer="cus_far", amount=500, status="canceled"
    )
    subscription.update(ended_at=10**20, canceled_at=10**12, start_date=True)
    response = se.deliver(client, se.event("customer.subscription.deleted", subscription))
    assert response.status_code == 200
    support = db.session.scalars(select(RecurringSupport)).one()
    assert (support.status, support.ended_at, support.canceled_at) == ("canceled", None, None)


def test_an_email_change_of_a_customer_who_never_gives_is_forgotten_with_the_payloads(
    client: FlaskClient, app_ctx: None
) -> None:
    changed_at = int(clock.now().timestamp()) - 31 * DAY
    se.deliver(
        client,
        se.event(
            "customer.updated",
            se.customer(customer_id="cus_never", email="never@example.org"),
            created=changed_at,
        ),
    )
    assert db.session.scalars(select(PendingCustomerEmail.email)).all() == ["never@example.org"]
    service.forget_payloads(timedelta(days=30))
    assert db.session.scalars(select(PendingCustomerEmail)).all() == []
