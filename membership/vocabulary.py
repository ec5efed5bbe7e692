"""The product's words, each written once: frequencies with their labels, the statuses of
attempts, recurring support, payments and reminders, and the attribution fields.

A ``StrEnum`` member equals its string (``Frequency.MONTHLY == "monthly"``), so rows,
forms and Stripe metadata hold plain strings and nothing is migrated; CHECK constraints
are written from these (``sql_in``), so the database refuses what the code would not
say. Modelled on rev-engine's ``contributions/choices.py`` and warehouse's
``StripeSubscriptionStatus``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from membership.i18n import lazy_gettext


class Frequency(StrEnum):
    """How often a gift is given."""

    ONCE = "once"
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def label(self) -> str:
        """What readers and staff see, in the language being served (a lazy string: it is
        translated where it is shown; staff pages are English)."""
        return _FREQUENCY_LABELS[self]

    @classmethod
    def from_interval(cls, interval: str | None) -> Frequency | None:
        """The frequency of a Stripe price's ``recurring.interval`` (``month``, ``year``)."""
        return _INTERVALS.get(interval or "")


_FREQUENCY_LABELS = {
    Frequency.ONCE: lazy_gettext("Once"),
    Frequency.MONTHLY: lazy_gettext("Monthly"),
    Frequency.ANNUAL: lazy_gettext("Annual"),
}
_INTERVALS = {"month": Frequency.MONTHLY, "year": Frequency.ANNUAL}
RECURRING_FREQUENCIES = (Frequency.MONTHLY, Frequency.ANNUAL)


class AttemptStatus(StrEnum):
    """How a press of Continue ended; it only moves forward, in this order."""

    OPEN = "open"
    AWAITING_PAYMENT = "awaiting_payment"
    EXPIRED = "expired"
    PAYMENT_FAILED = "payment_failed"
    PAID = "paid"


class RecurringStatus(StrEnum):
    """A subscription's status as Stripe reports it, in the order of its life (a report of
    the same second never moves it backwards)."""

    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    CANCELED = "canceled"


# No money comes in under these any more (``past_due`` still counts: Stripe is retrying).
ENDED_STATUSES = frozenset(
    {RecurringStatus.CANCELED, RecurringStatus.UNPAID, RecurringStatus.PAUSED}
)
NEVER_STARTED_STATUSES = frozenset({RecurringStatus.INCOMPLETE, RecurringStatus.INCOMPLETE_EXPIRED})


class PaymentStatus(StrEnum):
    """The one status reports show for a payment, derived from its refunds and dispute."""

    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_LOST = "dispute_lost"


# Under these a dispute holds the payment's money (``Payment.net_minor``).
DISPUTE_HOLDS_MONEY = frozenset({PaymentStatus.DISPUTED, PaymentStatus.DISPUTE_LOST})


class ReminderStatus(StrEnum):
    """scheduled -> sending -> sent; or failed (attempts exhausted), cancelled, converted."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CONVERTED = "converted"


# Where a gift came from: the article, and the campaign tags of the link to it.
ATTRIBUTION_FIELDS = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_content")


def sql_in(column: str, values: Iterable[str], *, nullable: bool = False) -> str:
    """``column IN ('a', 'b')`` for a CHECK constraint or a partial index, from our own
    constants only (never from input: values are written into SQL)."""
    words = list(values)
    if not all(word.replace("_", "").isalnum() for word in words):
        raise ValueError(f"not a vocabulary word: {words}")
    condition = "{} IN ({})".format(column, ", ".join(f"'{word}'" for word in words))
    return f"{column} IS NULL OR {condition}" if nullable else condition


class NewsletterStatus(StrEnum):
    """A newsletter sign-up: pending (until its link is followed, erased after 7 days) ->
    confirmed -> unsubscribed (the address erased, the dates kept for the counts)."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class ConfirmationMailStatus(StrEnum):
    """The confirmation email of a sign-up: queued -> sending -> sent; or failed."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
