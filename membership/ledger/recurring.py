"""Recurring support: one row per Stripe subscription, whose state never goes backwards.

Each state carries the ``created`` time of the event that reported it
(``status_as_of``); an older report is ignored. Reports from the same second are
ordered by how far along the subscription's life they are, so the outcome does
not depend on delivery order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from membership import clock
from membership.database import insert_unless_exists
from membership.extensions import db
from membership.ledger.attempts import attribution_of, copy_attribution
from membership.models import CheckoutAttempt, Payment, RecurringSupport
from membership.reports import rollups

_LIFECYCLE = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 3,
    "unpaid": 4,
    "paused": 5,
    "incomplete_expired": 6,
    "canceled": 7,
}
INTERVAL_FREQUENCIES = {"month": "monthly", "year": "annual"}


@dataclass(frozen=True)
class SubscriptionState:
    """What a subscription event says about the subscription at ``as_of``."""

    status: str
    as_of: datetime
    amount_minor: int | None = None
    currency: str | None = None
    frequency: str | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    ended_at: datetime | None = None
    started_at: datetime | None = None


def get_or_create_recurring(
    subscription_id: str,
    *,
    customer_id: str | None,
    supporter_id: int | None,
    attempt: CheckoutAttempt | None,
) -> RecurringSupport:
    """The recurring support for a subscription, created on first sight from whichever event."""
    recurring = db.session.scalar(
        select(RecurringSupport).where(RecurringSupport.stripe_subscription_id == subscription_id)
    )
    if recurring is None:
        recurring = (
            insert_unless_exists(
                db.session,
                RecurringSupport,
                {
                    "stripe_subscription_id": subscription_id,
                    "stripe_customer_id": customer_id,
                    "supporter_id": supporter_id,
                    "status": "incomplete",
                    "cancel_at_period_end": False,
                    "created_at": clock.now(),
                    **attribution_of(attempt),
                },
            )
            or db.session.scalars(
                select(RecurringSupport).where(
                    RecurringSupport.stripe_subscription_id == subscription_id
                )
            ).one()
        )
    if customer_id and recurring.stripe_customer_id is None:
        recurring.stripe_customer_id = customer_id
    if supporter_id is not None and recurring.supporter_id is None:
        recurring.supporter_id = supporter_id
    copy_attribution(recurring, attempt)
    return recurring


def fill_terms(
    recurring: RecurringSupport,
    *,
    frequency: str | None,
    amount_minor: int | None,
    currency: str | None,
    started_at: datetime | None,
) -> None:
    """Fill what is not known yet (from checkout or the first invoice); states own changes."""
    if frequency and recurring.frequency is None:
        recurring.frequency = frequency
        db.session.flush()
        rollups.payments_frequency_learnt(recurring.id, frequency)  # report rollups, bulk UPDATE
        db.session.execute(
            update(Payment)
            .where(Payment.recurring_support_id == recurring.id, Payment.frequency.is_(None))
            .values(frequency=frequency)
            .execution_options(synchronize_session=False)
        )
    if recurring.status_as_of is None:
        if amount_minor is not None and recurring.amount_minor is None:
            recurring.amount_minor = amount_minor
        if currency and recurring.currency is None:
            recurring.currency = currency
    if started_at and (recurring.started_at is None or started_at < recurring.started_at):
        recurring.started_at = started_at


def apply_state(recurring: RecurringSupport, state: SubscriptionState) -> bool:
    """Apply a reported state unless a newer one is already known; True when applied."""
    if recurring.status_as_of is not None:
        if state.as_of < recurring.status_as_of:
            return False
        if state.as_of == recurring.status_as_of and _LIFECYCLE.get(
            state.status, 0
        ) < _LIFECYCLE.get(recurring.status, 0):
            return False
    recurring.status = state.status
    recurring.status_as_of = state.as_of
    recurring.cancel_at_period_end = state.cancel_at_period_end
    recurring.canceled_at = state.canceled_at
    recurring.ended_at = state.ended_at
    if state.amount_minor is not None:
        recurring.amount_minor = state.amount_minor
    if state.currency:
        recurring.currency = state.currency
    fill_terms(
        recurring,
        frequency=state.frequency,
        amount_minor=None,
        currency=None,
        started_at=state.started_at,
    )
    if state.frequency and recurring.frequency != state.frequency:
        recurring.frequency = state.frequency
    return True


def mark_past_due(recurring: RecurringSupport, as_of: datetime) -> None:
    """A failed renewal: past due, unless a newer state is already known."""
    if recurring.status_as_of is not None and (
        as_of < recurring.status_as_of
        or (
            as_of == recurring.status_as_of
            and _LIFECYCLE.get(recurring.status, 0) >= _LIFECYCLE["past_due"]
        )
    ):
        return
    if recurring.status in ("canceled", "incomplete_expired"):
        return
    recurring.status = "past_due"
    recurring.status_as_of = as_of
