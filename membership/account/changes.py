"""What a supporter asks Stripe to do from their page: open the Customer Portal, change a
recurring gift's amount, switch it between monthly and annual, pause it for 1 to 3
months or resume it, or cancel it at the end of its period.

The ledger never changes here: Stripe's webhook says what happened, and the ledger
records it (``membership.ledger``). Until then the gift shows as "being updated"
(``service.overview``), from the ``SupportChange`` kept for it, whose id is the
request's idempotency key at Stripe.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from blinker import Namespace

from membership import clock, money, stripe_gateway
from membership.account.forms import PAUSE_MONTHS
from membership.account.models import CHANGE_KINDS, SupportChange
from membership.account.service import NoStripeCustomer, change_is_pending
from membership.config import Settings
from membership.extensions import db
from membership.i18n import gettext
from membership.ledger.models import RecurringSupport, Supporter
from membership.vocabulary import ENDED_STATUSES, RECURRING_FREQUENCIES, RecurringStatus

KINDS = CHANGE_KINDS


change_requested = Namespace().signal(
    "support-change-requested",
    doc="""Stripe accepted a change a supporter asked for from their account page (the
    ledger follows when its webhook arrives). Supporter notices confirm it by email.

    :sender: the ``SupportChange``, committed
    :param recurring: the ``RecurringSupport`` it changes
    """,
)


class InvalidChange(ValueError):
    """The change cannot be asked for; the message says why, to the supporter."""


@dataclass(frozen=True)
class Wanted:
    """A change as the supporter's form put it: the kind, and the new amount (amount,
    switch) or the pause's length in months (pause), as typed."""

    kind: str
    amount_text: str | None = None
    months_text: str | None = None


def portal_url(settings: Settings, supporter: Supporter, return_url: str) -> str:
    """A Customer Portal session of the supporter's own Stripe customer.

    :raise NoStripeCustomer: we know no customer of theirs.
    """
    if not supporter.stripe_customer_id:
        raise NoStripeCustomer(supporter.id)
    return stripe_gateway.create_portal_session(settings, supporter.stripe_customer_id, return_url)


def ask(
    settings: Settings, recurring: RecurringSupport, wanted: Wanted, now: datetime | None = None
) -> SupportChange:
    """Ask Stripe for one change to a recurring gift the caller has checked is the
    supporter's own (``service.their_recurring``).

    The request is stored first and its id sent as the idempotency key; if Stripe
    refuses, it is deleted again and ``GatewayError`` raised.
    :raise InvalidChange: an ended gift, a change already on its way, a change that
        does not apply (resuming a gift not paused), or an amount out of range.
    """
    now = now or clock.now()
    request = _checked_request(settings, recurring, wanted, now)
    db.session.add(request)
    db.session.commit()
    try:
        _ask_stripe(settings, recurring, request)
    except stripe_gateway.GatewayError:
        db.session.delete(request)
        db.session.commit()
        raise
    change_requested.send(request, recurring=recurring)
    return request


def _checked_request(
    settings: Settings, recurring: RecurringSupport, wanted: Wanted, now: datetime
) -> SupportChange:
    if wanted.kind not in KINDS:
        raise InvalidChange(gettext("That is not a change we can make."))
    if recurring.status in ENDED_STATUSES or recurring.status == RecurringStatus.CANCELED:
        raise InvalidChange(gettext("This gift has ended; give again from the support page."))
    if change_is_pending(recurring, now):
        raise InvalidChange(
            gettext("Your last change is on its way to our payment provider; try again soon.")
        )
    if recurring.cancel_at_period_end:
        raise InvalidChange(gettext("This gift already ends at the end of this period."))
    request = SupportChange(recurring_support_id=recurring.id, kind=wanted.kind, requested_at=now)
    if wanted.kind == "amount":
        request.amount_minor = _new_amount(settings, recurring, recurring.frequency, wanted)
    elif wanted.kind == "switch":
        other = _other_frequency(recurring)
        request.frequency = other
        request.amount_minor = _new_amount(settings, recurring, other, wanted)
    elif wanted.kind == "pause":
        if recurring.collection_paused:
            raise InvalidChange(gettext("This gift is paused already."))
        request.resumes_at = months_later(now, _months(wanted.months_text))
    elif wanted.kind == "resume" and not recurring.collection_paused:
        raise InvalidChange(gettext("This gift is not paused."))
    return request


def _ask_stripe(settings: Settings, recurring: RecurringSupport, request: SupportChange) -> None:
    key = f"account-change-{request.id}"
    subscription = recurring.stripe_subscription_id
    if request.kind in ("amount", "switch"):
        frequency = request.frequency or recurring.frequency
        assert request.amount_minor is not None and recurring.currency and frequency
        stripe_gateway.change_subscription_amount(
            settings, subscription, request.amount_minor, recurring.currency, frequency, key
        )
    elif request.kind == "pause":
        assert request.resumes_at is not None
        resumes_at = int(request.resumes_at.timestamp())
        stripe_gateway.pause_subscription(settings, subscription, resumes_at, key)
    elif request.kind == "resume":
        stripe_gateway.resume_subscription(settings, subscription, key)
    else:
        stripe_gateway.cancel_subscription_at_period_end(settings, subscription, key)


def _other_frequency(recurring: RecurringSupport) -> str:
    if recurring.frequency not in RECURRING_FREQUENCIES:
        raise InvalidChange(gettext("We do not know this gift's frequency yet; try again later."))
    return next(f for f in RECURRING_FREQUENCIES if f != recurring.frequency)


def _months(text: str | None) -> int:
    if text not in {str(n) for n in PAUSE_MONTHS}:
        raise InvalidChange(gettext("Choose a pause of 1, 2 or 3 months."))
    return int(text or 0)


def months_later(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months on (the month's last day when shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


def _new_amount(
    settings: Settings, recurring: RecurringSupport, frequency: str | None, wanted: Wanted
) -> int:
    if not recurring.currency or not frequency:
        raise InvalidChange(gettext("We do not know this gift's amount yet; try again later."))
    try:
        amount = money.parse_amount(wanted.amount_text or "", recurring.currency)
    except money.InvalidAmount:
        raise InvalidChange(gettext("Enter an amount, such as 10 or 10.50.")) from None
    rule = settings.amount_rule(frequency, recurring.currency)
    if not rule.minimum <= amount <= rule.maximum:
        low = money.format_money(rule.minimum, recurring.currency)
        high = money.format_money(rule.maximum, recurring.currency)
        raise InvalidChange(
            gettext("Choose an amount from %(low)s to %(high)s.", low=low, high=high)
        )
    if wanted.kind == "amount" and amount == recurring.amount_minor:
        raise InvalidChange(gettext("That is the amount you give now."))
    return amount
