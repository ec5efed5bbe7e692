"""Example activity for a new install, recorded through the ledger: supporters, gifts,
renewals, refunds, disputes, failed payments, cancellations, checkout attempts and
reminders over the last 24 months (the stories of ``membership.demo.histories``).

Everything goes through the ledger functions the Stripe webhook handlers call
(``membership.ledger``), one supporter per transaction, so the report rollups are kept
up to date exactly as in production. Deterministic for a given ``seed``. For millions of
payments, ``membership.demo.bulk`` writes the same rows in bulk.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from membership import clock
from membership.demo.histories import Failure, Gift, History, SeedRefused, histories
from membership.extensions import db
from membership.ledger import attempts, payments, recurring, supporters
from membership.ledger.recurring import SubscriptionState
from membership.models import CheckoutAttempt
from membership.reminders.models import Reminder
from membership.sql.rows import Row

__all__ = ["SeedRefused", "SeedSummary", "seed", "record"]


@dataclass
class SeedSummary:
    supporters: int = 0
    payments: int = 0
    recurring: int = 0
    attempts: int = 0
    reminders: int = 0

    def count(self, history: History) -> None:
        self.supporters += 1
        self.payments += history.payments
        self.recurring += history.kind != "once"
        self.attempts += len(history.attempts)
        self.reminders += history.reminder is not None


def seed(
    supporter_count: int, payment_count: int, *, seed_value: int = 1, run: str | None = None
) -> SeedSummary:
    """Add ``supporter_count`` supporters with ``payment_count`` payments in all; ``run``
    prefixes their keys (by default a new one: several seeds can share a database)."""
    run = run if run is not None else secrets.token_hex(4)
    summary = SeedSummary()
    now = clock.now()
    for history in histories(
        supporter_count, payment_count, seed_value=seed_value, run=run, now=now
    ):
        record(history)
        db.session.commit()
        summary.count(history)
    return summary


def record(history: History) -> None:
    """One supporter's story, through the ledger as the webhooks would record it."""
    attempt = _attempts(history)
    supporter_id = supporters.find_or_create_supporter(
        customer_id=history.customer_id, email=history.email
    )
    assert supporter_id is not None
    attempts.advance_attempt(attempt, "paid", supporter_id)
    if history.reminder is not None:
        _reminder(history)
    if history.kind == "once":
        for gift in history.events:
            assert isinstance(gift, Gift)
            _pay(history, gift, supporter_id, attempt)
    else:
        _recurring(history, supporter_id, attempt)


def _attempts(history: History) -> Row:
    """The checkout that converted and the abandoned ones from the same page (stored as
    the support form stores them, then read back as the ledger reads them)."""
    for opened in history.attempts:
        db.session.add(
            CheckoutAttempt(
                id=opened.id,
                frequency=history.kind,
                amount_minor=history.amount_minor,
                currency=history.currency,
                stripe_session_id=opened.session_id,
                status="open",
                created_at=opened.created_at,
                **history.attribution,
            )
        )
    db.session.flush()
    found = [attempts.find_attempt(opened.id) for opened in history.attempts]
    for abandoned in found[1:]:
        assert abandoned is not None
        attempts.advance_attempt(abandoned, "expired")
    assert found[0] is not None
    return found[0]


def _pay(
    history: History, gift: Gift, supporter_id: int, attempt: Row, support: Row | None = None
) -> None:
    payments.record_payment(
        payments.PaymentFacts(
            amount_minor=history.amount_minor,
            currency=history.currency,
            paid_at=gift.paid_at,
            customer_id=history.customer_id,
            payment_intent_id=gift.payment_intent_id,
            invoice_id=gift.invoice_id,
            subscription_id=history.subscription_id if support is not None else None,
            frequency=history.kind,
        ),
        supporter_id=supporter_id,
        attempt=attempt,
        recurring=support,
    )
    adjustment = gift.adjustment
    if adjustment is None:
        return
    if adjustment.dispute_status is None:
        payments.record_refunds(
            gift.payment_intent_id, adjustment.charge_id, adjustment.refunded_minor
        )
    else:
        assert adjustment.as_of is not None
        payments.record_dispute(
            gift.payment_intent_id,
            adjustment.charge_id,
            adjustment.dispute_status,
            adjustment.disputed_minor,
            adjustment.as_of,
        )


def active_state(history: History) -> SubscriptionState:
    """What ``customer.subscription.created`` says of a history's subscription."""
    return SubscriptionState(
        status="active",
        as_of=history.start,
        amount_minor=history.amount_minor,
        currency=history.currency,
        frequency=history.kind,
        started_at=history.start,
    )


def _recurring(history: History, supporter_id: int, attempt: Row) -> None:
    """A subscription: each invoice paid or failed in turn, then perhaps cancelled."""
    support = recurring.get_or_create_recurring(
        history.subscription_id, customer_id=history.customer_id
    )
    recurring.link_recurring(support, supporter_id=supporter_id, attempt=attempt)
    active = active_state(history)
    recurring.apply_state(support, active)
    recurring.save_recurring(support)
    for event in history.events:
        if isinstance(event, Failure):
            payments.record_failure(
                invoice_id=event.invoice_id,
                attempt_count=1,
                subscription_id=history.subscription_id,
                customer_id=history.customer_id,
                recurring=support,
                supporter_id=supporter_id,
                amount_minor=history.amount_minor,
                currency=history.currency,
                failed_at=event.failed_at,
            )
            recurring.mark_past_due(support, event.failed_at)
            recurring.save_recurring(support)
            continue
        _pay(history, event, supporter_id, attempt, support)
        recurring.note_paid(support, event.paid_at)
        if support["status"] == "past_due":
            recurring.apply_state(support, active_state_as_of(history, event.paid_at))
        recurring.save_recurring(support)
    if history.canceled_at is not None:
        recurring.apply_state(support, canceled_state(history))
        recurring.save_recurring(support)


def active_state_as_of(history: History, as_of: datetime) -> SubscriptionState:
    """Active again once a renewal is paid after a failure."""
    return replace(active_state(history), as_of=as_of)


def canceled_state(history: History) -> SubscriptionState:
    """What ``customer.subscription.deleted`` says when the reader stopped giving."""
    end = history.canceled_at
    assert end is not None
    return replace(
        active_state(history), status="canceled", as_of=end, canceled_at=end, ended_at=end
    )


def _reminder(history: History) -> None:
    """A "remind me later" the reader asked for before giving."""
    reminder = history.reminder
    assert reminder is not None
    db.session.add(Reminder(**reminder_values(history)))


def reminder_values(history: History) -> dict[str, object]:
    """The reminder row a history's "remind me later" leaves (the token is a new secret)."""
    reminder = history.reminder
    assert reminder is not None
    status, due = reminder.status, reminder.due_at
    return {
        "token": secrets.token_urlsafe(32),
        "email": history.email,
        "due_at": due,
        "frequency": history.kind,
        "amount_minor": history.amount_minor,
        "currency": history.currency,
        "source": history.attribution["source"],
        "status": status,
        "attempts": 1 if status != "cancelled" else 0,
        "sent_at": due if status != "cancelled" else None,
        "converted_at": history.start if status == "converted" else None,
        "cancelled_at": due if status == "cancelled" else None,
        "created_at": reminder.asked_at,
        "updated_at": clock.now(),
    }
