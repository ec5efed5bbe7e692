"""Recurring support: one row per Stripe subscription, whose state never goes backwards.

Each state carries the ``created`` time of the event that reported it
(``status_as_of``); an older report is ignored. Reports from the same second are
ordered by how far along the subscription's life they are, so the outcome does
not depend on delivery order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from membership import clock
from membership.ledger import payments
from membership.ledger.attempts import ATTRIBUTION_COLUMNS, copy_attribution
from membership.models import Payment, RecurringSupport, Supporter
from membership.sql.rows import Row, fetch_one, select_all
from membership.sql.statements import Statement
from membership.vocabulary import RecurringStatus

RECURRING = RecurringSupport.__table__
PAYMENTS = Payment.__table__
SUPPORTERS = Supporter.__table__

_LIFECYCLE: dict[str, int] = {status: order for order, status in enumerate(RecurringStatus)}


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
    # Stripe's ``current_period_end``: when the next payment is due while it renews.
    current_period_end: datetime | None = None
    # Stripe's ``pause_collection``: no invoice collected until it resumes (at this time,
    # or when asked: None).
    collection_paused: bool = False
    collection_resumes_at: datetime | None = None


_FIND_RECURRING = Statement(
    select_all(RECURRING).where(RECURRING.c.stripe_subscription_id == bindparam("subscription_id"))
)
_SUPPORTER_EMAIL = "supporter_email"
_FIND_RECURRING_WITH_EMAIL = Statement(
    select(
        *RECURRING.c,
        select(SUPPORTERS.c.email)
        .where(SUPPORTERS.c.id == RECURRING.c.supporter_id)
        .scalar_subquery()
        .label(_SUPPORTER_EMAIL),
    ).where(RECURRING.c.stripe_subscription_id == bindparam("subscription_id"))
)
_PAYMENTS_WITHOUT_FREQUENCY = Statement(
    select_all(PAYMENTS)
    .where(PAYMENTS.c.recurring_support_id == bindparam("recurring_id"))
    .where(PAYMENTS.c.frequency.is_(None))
)


def get_with_supporter_email(subscription_id: str) -> tuple[Row, str | None]:
    """``get_or_create_recurring``, with its supporter's email read in the same query: a
    renewal stating the email already held needs no look-up of its supporter."""
    row = _FIND_RECURRING_WITH_EMAIL.first(subscription_id=subscription_id)
    if row is None:
        return get_or_create_recurring(subscription_id, customer_id=None), None
    email = row.pop(_SUPPORTER_EMAIL)
    return Row(RECURRING, row, stored=True), email


def get_or_create_recurring(subscription_id: str, *, customer_id: str | None) -> Row:
    """The recurring support for a subscription, from whichever event comes first; a new
    one is inserted by ``save_recurring`` once the event has filled it in."""
    recurring = fetch_one(_FIND_RECURRING, RECURRING, subscription_id=subscription_id)
    if recurring is None:
        recurring = Row(
            RECURRING,
            {
                "stripe_subscription_id": subscription_id,
                "stripe_customer_id": customer_id,
                "supporter_id": None,
                "frequency": None,
                "amount_minor": None,
                "currency": None,
                "status": "incomplete",
                "cancel_at_period_end": False,
                "started_at": None,
                "canceled_at": None,
                "ended_at": None,
                "status_as_of": None,
                "created_at": clock.now(),
                "first_paid_at": None,
                "current_period_end": None,
                "collection_paused": False,
                "collection_resumes_at": None,
                "checkout_attempt_id": None,
                **{column: None for column in ATTRIBUTION_COLUMNS},
            },
            stored=False,
        )
    elif customer_id and recurring["stripe_customer_id"] is None:
        recurring["stripe_customer_id"] = customer_id
    return recurring


def knows_supporter(recurring: Row, customer_id: str | None) -> bool:
    """True when an earlier event already found this subscription's supporter, for this
    customer: a renewal need not look them up again."""
    return (
        recurring.stored
        and recurring["supporter_id"] is not None
        and recurring["stripe_customer_id"] == customer_id
    )


def link_recurring(recurring: Row, *, supporter_id: int | None, attempt: Row | None) -> None:
    """Attach the supporter and the attribution of the gift that started it, if new."""
    if supporter_id is not None and recurring["supporter_id"] is None:
        recurring["supporter_id"] = supporter_id
    copy_attribution(recurring, attempt)


def save_recurring(recurring: Row) -> None:
    """Write the recurring support; payments recorded before its frequency was known
    learn it now."""
    learnt_frequency = recurring.stored and "frequency" in recurring.changes()
    recurring.save()
    if learnt_frequency and recurring["frequency"]:
        # Rare: a renewal recorded before any event said monthly or annual.
        payments.give_frequency(
            _PAYMENTS_WITHOUT_FREQUENCY, recurring["frequency"], recurring_id=recurring["id"]
        )


def note_paid(recurring: Row, paid_at: datetime) -> None:
    """An invoice of it was paid: the first paid one is when it began to count (a trial
    counts from then, not from its start)."""
    if recurring["first_paid_at"] is None or paid_at < recurring["first_paid_at"]:
        recurring["first_paid_at"] = paid_at


def fill_terms(
    recurring: Row,
    *,
    frequency: str | None,
    amount_minor: int | None,
    currency: str | None,
    started_at: datetime | None,
) -> None:
    """Fill what is not known yet (from checkout or the first invoice); states own changes."""
    if frequency and recurring["frequency"] is None:
        recurring["frequency"] = frequency
    if recurring["status_as_of"] is None:
        if amount_minor is not None and recurring["amount_minor"] is None:
            recurring["amount_minor"] = amount_minor
        if currency and recurring["currency"] is None:
            recurring["currency"] = currency
    if started_at and (recurring["started_at"] is None or started_at < recurring["started_at"]):
        recurring["started_at"] = started_at


def apply_state(recurring: Row, state: SubscriptionState) -> bool:
    """Apply a reported state unless a newer one is already known; True when applied."""
    as_of = recurring["status_as_of"]
    if as_of is not None:
        if state.as_of < as_of:
            return False
        if state.as_of == as_of and _LIFECYCLE.get(state.status, 0) < _LIFECYCLE.get(
            recurring["status"], 0
        ):
            return False
    recurring["status"] = state.status
    recurring["status_as_of"] = state.as_of
    recurring["cancel_at_period_end"] = state.cancel_at_period_end
    recurring["canceled_at"] = state.canceled_at
    recurring["ended_at"] = state.ended_at
    recurring["collection_paused"] = state.collection_paused
    recurring["collection_resumes_at"] = state.collection_resumes_at
    if state.current_period_end is not None:
        recurring["current_period_end"] = state.current_period_end
    if state.amount_minor is not None:
        recurring["amount_minor"] = state.amount_minor
    if state.currency:
        recurring["currency"] = state.currency
    fill_terms(
        recurring,
        frequency=state.frequency,
        amount_minor=None,
        currency=None,
        started_at=state.started_at,
    )
    if state.frequency and recurring["frequency"] != state.frequency:
        recurring["frequency"] = state.frequency
    return True


def mark_past_due(recurring: Row, as_of: datetime) -> None:
    """A failed renewal: past due, unless a newer state is already known."""
    known_as_of = recurring["status_as_of"]
    if known_as_of is not None and (
        as_of < known_as_of
        or (
            as_of == known_as_of
            and _LIFECYCLE.get(recurring["status"], 0) >= _LIFECYCLE["past_due"]
        )
    ):
        return
    if recurring["status"] in ("canceled", "incomplete_expired"):
        return
    recurring["status"] = "past_due"
    recurring["status_as_of"] = as_of
