"""Erasing a supporter at their request (``POST /account/erase``, ``flask supporters
erase``): their gifts stop, and their email goes from everywhere it is held.

Stripe first: each recurring gift still running is cancelled at once and each of their
Stripe customers deleted. If Stripe cannot be reached nothing here changes, and the
supporter (or staff) tries again. Then, in one transaction: the address is erased from
reminders, the newsletter, pending and former emails and stored webhook payloads; their
sign-in links and the emails still owed to them go; payments, recurring gifts and
failures keep amounts, dates and currencies for the accounts, with no supporter; the
supporter row is deleted; and each customer id is remembered by a keyed hash
(``ledger.erased``), so that a late webhook about them cannot write the email back.
Last, the freed pages are scrubbed from disk.
"""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from membership import clock, stripe_gateway
from membership.account.models import SignInLink
from membership.config import Settings
from membership.database import scrub_after_erasure
from membership.extensions import db
from membership.ledger.erased import remember_erased
from membership.ledger.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    PendingCustomerEmail,
    RecurringSupport,
    SupersededEmail,
    Supporter,
)
from membership.newsletter.models import Subscriber
from membership.notices.models import OPEN_STATUSES, Notice
from membership.reminders.models import Reminder
from membership.vocabulary import NewsletterStatus, RecurringStatus
from membership.webhooks.models import StripeEvent
from membership.webhooks.payloads import NO_PAYLOAD

# Stripe has nothing left to stop for these.
_STOPPED = (RecurringStatus.CANCELED, RecurringStatus.INCOMPLETE_EXPIRED)
_LEDGER_ROWS = (Payment, RecurringSupport, PaymentFailure, CheckoutAttempt)
_SCRUBBED = (
    "supporters",
    "superseded_emails",
    "pending_customer_emails",
    "reminders",
    "newsletter_subscribers",
    "account_sign_in_links",
    "supporter_notices",
    "stripe_events",
)


@dataclass(frozen=True)
class Erased:
    """What an erasure did: for the reader's page, the staff command and its audit entry."""

    supporter_id: int
    subscriptions_cancelled: int
    customers_deleted: int


def erase_supporter(
    settings: Settings, supporter: Supporter, now: datetime | None = None
) -> Erased:
    """Cancel the supporter's gifts and delete their customers at Stripe, then erase
    everything that names them here (module docstring).

    :raise stripe_gateway.GatewayError: Stripe could not do its part; nothing was erased.
    """
    now = now or clock.now()
    supporter_id = supporter.id
    customers = _customers_of(supporter)
    running = db.session.scalars(
        select(RecurringSupport.stripe_subscription_id).where(
            RecurringSupport.supporter_id == supporter_id,
            RecurringSupport.status.not_in(_STOPPED),
        )
    ).all()
    db.session.rollback()  # no transaction held open while Stripe answers
    for subscription_id in running:
        with suppress(stripe_gateway.NotFound):  # ended at Stripe already
            stripe_gateway.cancel_subscription(settings, subscription_id, at_period_end=False)
    for customer_id in customers:
        stripe_gateway.delete_customer(settings, customer_id)
    _erase_here(supporter_id, customers, now)
    return Erased(supporter_id, len(running), len(customers))


def _customers_of(supporter: Supporter) -> list[str]:
    """Every Stripe customer their gifts were made under (a changed card may mean another)."""
    found = {supporter.stripe_customer_id} if supporter.stripe_customer_id else set()
    for model in (Payment, RecurringSupport, PaymentFailure):
        found.update(
            db.session.scalars(
                select(model.stripe_customer_id)
                .where(model.supporter_id == supporter.id, model.stripe_customer_id.is_not(None))
                .distinct()
            )
        )
    return sorted(c for c in found if c)


def _erase_here(supporter_id: int, customers: list[str], now: datetime) -> None:
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is None:
        return  # erased meanwhile (a second press)
    emails = {supporter.email, *_former_emails(supporter_id)}
    for customer_id in customers:
        remember_erased(customer_id, now)
    db.session.execute(
        update(Reminder)
        .where(Reminder.email.in_(emails))
        .values(email=None, email_erased_at=now)
        .execution_options(synchronize_session=False)
    )
    _leave_newsletter(emails, now)
    db.session.execute(delete(SupersededEmail).where(SupersededEmail.supporter_id == supporter_id))
    db.session.execute(delete(SupersededEmail).where(SupersededEmail.email.in_(emails)))
    pending = [PendingCustomerEmail.email.in_(emails)]
    if customers:
        pending.append(PendingCustomerEmail.stripe_customer_id.in_(customers))
    db.session.execute(delete(PendingCustomerEmail).where(or_(*pending)))
    _forget_payloads_naming(emails, customers)
    db.session.execute(delete(SignInLink).where(SignInLink.supporter_id == supporter_id))
    db.session.execute(  # no email goes out to them any more
        delete(Notice).where(Notice.supporter_id == supporter_id, Notice.status.in_(OPEN_STATUSES))
    )
    for model in _LEDGER_ROWS:  # the money stays, nobody's
        db.session.execute(
            update(model)
            .where(model.supporter_id == supporter_id)
            .values(supporter_id=None)
            .execution_options(synchronize_session=False)
        )
    db.session.delete(supporter)
    db.session.commit()
    scrub_after_erasure(db.session, _SCRUBBED)


def _former_emails(supporter_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(SupersededEmail.email).where(SupersededEmail.supporter_id == supporter_id)
        )
    )


def _leave_newsletter(emails: set[str], now: datetime) -> None:
    """As an unsubscribe does: a pending sign-up goes, a subscriber keeps only its dates."""
    db.session.execute(
        delete(Subscriber).where(
            Subscriber.email.in_(emails), Subscriber.status == NewsletterStatus.PENDING
        )
    )
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.email.in_(emails))
        .values(
            status=NewsletterStatus.UNSUBSCRIBED,
            unsubscribed_at=now,
            email=None,
            consent_wording=None,
            consent_privacy_url=None,
            confirm_token_hash=None,
            unsubscribe_token_hash=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def _forget_payloads_naming(emails: set[str], customers: list[str]) -> None:
    """Blank every stored event payload that names them: their email as JSON writes it
    (in any case), or one of their customers. A scan of the events table: erasures are
    rare."""
    needles = {json.dumps(email)[1:-1] for email in emails} | set(customers)
    db.session.execute(
        update(StripeEvent)
        .where(
            StripeEvent.payload != NO_PAYLOAD,
            or_(*(StripeEvent.payload.icontains(needle, autoescape=True) for needle in needles)),
        )
        .values(payload=NO_PAYLOAD)
        .execution_options(synchronize_session=False)
    )
