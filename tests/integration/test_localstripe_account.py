"""A supporter's account against localstripe, where it covers the calls: cancelling at the
period's end (as the account page asks, with its idempotency key) and erasure (the
subscription cancelled, the customer deleted, the webhook that follows writing no email
back). localstripe has no ``pause_collection`` and sends no ``customer.subscription.updated``:
those are covered by the suite's fake Stripe (tests/account)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from membership.account import changes, erasure
from membership.account.models import SupportChange
from membership.config import current_settings
from membership.extensions import db
from membership.ledger.models import RecurringSupport, Supporter
from tests.integration.test_localstripe import (  # noqa: F401  (fixtures, used by name)
    DELIVERY_TIMEOUT_SECONDS,
    Deliveries,
    LedgerView,
    LocalStripe,
    deliveries,
    ledger_for,
    localstripe,
    localstripe_app,
    monthly_plan,
    subscribe,
    wait_for,
    wait_for_active_gift,
    webhook_url,
    webhooks,
)


def test_the_accounts_cancel_at_period_end_reaches_stripe_once(
    localstripe_app: Flask,  # noqa: F811
    localstripe: LocalStripe,  # noqa: F811
    monthly_plan: str,  # noqa: F811
    webhooks: Deliveries,  # noqa: F811
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "pausing@example.org")
    wait_for_active_gift(localstripe_app, subscribed)
    with localstripe_app.app_context():
        recurring = db.session.scalars(
            select(RecurringSupport).where(
                RecurringSupport.stripe_subscription_id == subscribed.subscription_id
            )
        ).one()
        change = changes.ask(current_settings(), recurring, changes.Wanted("cancel"))
        assert change.kind == "cancel"
        assert db.session.scalars(select(SupportChange)).one().id == change.id
        db.session.refresh(recurring)
        assert recurring.cancel_at_period_end is False  # the ledger waits for Stripe's word
    in_stripe = localstripe.request("GET", f"/v1/subscriptions/{subscribed.subscription_id}")
    assert in_stripe["cancel_at_period_end"] is True and in_stripe["status"] == "active"


def test_erasure_ends_the_subscription_and_deletes_the_customer_in_stripe(
    localstripe_app: Flask,  # noqa: F811
    localstripe: LocalStripe,  # noqa: F811
    monthly_plan: str,  # noqa: F811
    webhooks: Deliveries,  # noqa: F811
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "forget.me@example.org")
    wait_for_active_gift(localstripe_app, subscribed)
    with localstripe_app.app_context():
        supporter = db.session.scalars(
            select(Supporter).where(Supporter.stripe_customer_id == subscribed.customer_id)
        ).one()
        done = erasure.erase_supporter(current_settings(), supporter)
        assert (done.subscriptions_cancelled, done.customers_deleted) == (1, 1)
    subscription = localstripe.request("GET", f"/v1/subscriptions/{subscribed.subscription_id}")
    assert subscription["status"] == "canceled"
    try:
        customer = localstripe.request("GET", f"/v1/customers/{subscribed.customer_id}")
    except AssertionError:  # localstripe answers 404 for a deleted customer
        customer = {"deleted": True}
    assert customer.get("deleted") is True

    # localstripe's customer.subscription.deleted arrives after the erasure: the gift ends
    # in the ledger, and nobody's email comes back with it.
    def ended() -> LedgerView | None:
        view = ledger_for(localstripe_app, subscribed)
        return view if view.recurring and view.recurring["status"] == "canceled" else None

    view = wait_for(ended, "the ledger to record the cancellation", DELIVERY_TIMEOUT_SECONDS)
    assert view.supporter is None
    assert view.recurring is not None and view.recurring["supporter_id"] is None
    assert len(view.payments) == 1 and view.payments[0]["supporter_id"] is None
    webhooks.wait()
    with localstripe_app.app_context():
        assert db.session.scalars(select(Supporter.email)).all() == []
