"""Property: whatever a supporter does to a recurring gift from their page (change the
amount, switch monthly and annual, pause, resume, cancel, in any order, some of it
refused), and whatever order and number of times Stripe's webhooks for it arrive, the
ledger ends as Stripe's state of the subscription.

The fake Stripe applies each request as Stripe does and emits the webhook Stripe would
send; as time passes, a pause ends by itself at its ``resumes_at`` and a gift cancelled at
the period's end ends. Each event has its own
second (the ledger orders states by their event's ``created``, in whole seconds). First
the events are delivered as they come, and the ledger checked after each action (the
round trip); then the ledger's record of the gift is dropped and every event delivered
again, shuffled, a fifth of them twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from membership.account import changes
from membership.account.models import SupportChange
from membership.config import current_settings
from membership.extensions import db
from membership.ledger.models import RecurringSupport, Supporter
from membership.webhooks.models import StripeEvent
from tests import stripe_events as se
from tests.account.conftest import as_stripe_says, ledger
from tests.fake_stripe import FakeStripe

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
STEP = timedelta(hours=2)  # longer than a change's patience: each action stands alone


@dataclass(frozen=True)
class Action:
    kind: str  # a change's kind, or "time passes" (a pause's or a period's end, at Stripe)
    amount: str | None = None
    months: str | None = None


actions = st.one_of(
    st.builds(Action, st.just("amount"), amount=st.integers(1, 300).map(str)),
    st.builds(Action, st.just("switch"), amount=st.integers(1, 300).map(str)),
    st.builds(Action, st.just("pause"), months=st.sampled_from(["1", "2", "3", "4"])),
    st.builds(Action, st.just("resume")),
    st.builds(Action, st.just("cancel")),
    st.builds(Action, st.just("time passes")),
)


def a_fresh_gift(app: Flask, stripe: FakeStripe) -> int:
    """A monthly gift of $5.00 as Stripe holds it, recorded from its first webhook."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
    stripe.reset()
    stripe.event_clock = int(START.timestamp())
    db.session.add(Supporter(email="reader@example.org", stripe_customer_id="cus_reader"))
    db.session.commit()
    subscription = stripe.add_subscription("sub_reader", "cus_reader", amount=500)
    stripe.emit("customer.subscription.created", subscription)
    deliver(app, stripe.events)
    recurring_id = db.session.scalar(
        select(RecurringSupport.id).where(RecurringSupport.stripe_subscription_id == "sub_reader")
    )
    assert recurring_id is not None
    return int(recurring_id)


def deliver(app: Flask, events: list[dict[str, Any]]) -> None:
    client = app.test_client()
    for event in events:
        assert se.deliver(client, event).status_code == 200


def act(stripe: FakeStripe, recurring_id: int, action: Action, now: datetime) -> bool:
    """Do one action as the page would (or let a pause end at Stripe); whether it reached
    Stripe. A refused change asks Stripe nothing."""
    if action.kind == "time passes":
        subscription = stripe.subscriptions["sub_reader"]
        pause = subscription["pause_collection"]
        if subscription["status"] == "canceled":
            return False
        if subscription["cancel_at_period_end"]:  # the period ends: Stripe ends the gift
            ended = int(now.timestamp())
            subscription.update(status="canceled", canceled_at=ended, ended_at=ended)
            stripe.emit("customer.subscription.deleted", subscription)
            return True
        if not pause or not pause["resumes_at"]:
            return False
        subscription["pause_collection"] = None  # what Stripe does when resumes_at comes
        stripe.emit("customer.subscription.updated", subscription)
        return True
    db.session.expire_all()
    recurring = db.session.get(RecurringSupport, recurring_id)
    assert recurring is not None
    asked_before = len(stripe.requests)
    wanted = changes.Wanted(action.kind, amount_text=action.amount, months_text=action.months)
    try:
        changes.ask(current_settings(), recurring, wanted, now=now)
    except changes.InvalidChange:
        assert len(stripe.requests) == asked_before  # refused: Stripe was asked nothing
        return False
    return True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(actions, min_size=1, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_no_sequence_of_account_actions_and_webhooks_leaves_the_ledger_unlike_stripe(
    app: Flask, app_ctx: None, stripe: FakeStripe, steps: list[Action], seed: int
) -> None:
    recurring_id = a_fresh_gift(app, stripe)
    every_event = list(stripe.events)
    stripe.events.clear()
    for n, action in enumerate(steps, start=1):
        act(stripe, recurring_id, action, START + n * STEP)
        deliver(app, stripe.events)  # the round trip: as Stripe sends them
        every_event += stripe.events
        stripe.events.clear()
        assert ledger(app, recurring_id) == as_stripe_says(stripe.subscriptions["sub_reader"])

    # The same events again, on a ledger that never saw them: shuffled, some twice.
    db.session.execute(delete(StripeEvent))
    db.session.execute(delete(SupportChange))
    db.session.execute(delete(RecurringSupport))
    db.session.commit()
    rng = random.Random(seed)
    shuffled = every_event + rng.sample(every_event, k=max(1, len(every_event) // 5))
    rng.shuffle(shuffled)
    deliver(app, shuffled)
    recurring_id = int(
        db.session.scalar(
            select(RecurringSupport.id).where(
                RecurringSupport.stripe_subscription_id == "sub_reader"
            )
        )
        or 0
    )
    assert ledger(app, recurring_id) == as_stripe_says(stripe.subscriptions["sub_reader"])
