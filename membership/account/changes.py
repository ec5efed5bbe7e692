"""What a supporter asks Stripe to do from their page: open the Customer Portal, change a
recurring gift's amount, pause or resume it, or cancel it at the end of its period.

The ledger never changes here: Stripe's webhook says what happened, and the ledger
records it (``membership.ledger``). Until then the gift shows as "being updated"
(``service.overview``), from the ``SupportChange`` kept for it, whose id is the
request's idempotency key at Stripe.
"""

from __future__ import annotations

from blinker import Namespace

from membership import money, stripe_gateway
from membership.account.models import CHANGE_KINDS, SupportChange
from membership.account.service import NoStripeCustomer
from membership.config import Settings
from membership.extensions import db
from membership.ledger.models import RecurringSupport, Supporter
from membership.vocabulary import ENDED_STATUSES, RecurringStatus

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


def portal_url(settings: Settings, supporter: Supporter, return_url: str) -> str:
    """A Customer Portal session of the supporter's own Stripe customer.

    :raise NoStripeCustomer: we know no customer of theirs.
    """
    if not supporter.stripe_customer_id:
        raise NoStripeCustomer(supporter.id)
    return stripe_gateway.create_portal_session(settings, supporter.stripe_customer_id, return_url)


def ask(
    settings: Settings, recurring: RecurringSupport, kind: str, amount_text: str | None
) -> SupportChange:
    """Ask Stripe for one change (``kind`` in ``KINDS``) to a recurring gift the caller has
    checked is the supporter's own (``service.their_recurring``).

    The request is stored first and its id sent as the idempotency key; if Stripe
    refuses, it is deleted again and ``GatewayError`` raised.
    :raise InvalidChange: an ended gift, or an amount out of range.
    """
    if recurring.status in ENDED_STATUSES or recurring.status == RecurringStatus.CANCELED:
        raise InvalidChange("This gift has ended; give again from the support page.")
    amount = _new_amount(settings, recurring, amount_text) if kind == "amount" else None
    request = SupportChange(recurring_support_id=recurring.id, kind=kind, amount_minor=amount)
    db.session.add(request)
    db.session.commit()
    key = f"account-change-{request.id}"
    subscription = recurring.stripe_subscription_id
    try:
        if kind == "amount":
            assert amount is not None and recurring.currency and recurring.frequency
            stripe_gateway.change_subscription_amount(
                settings, subscription, amount, recurring.currency, recurring.frequency, key
            )
        elif kind == "pause":
            stripe_gateway.pause_subscription(settings, subscription, key)
        elif kind == "resume":
            stripe_gateway.resume_subscription(settings, subscription, key)
        else:
            stripe_gateway.cancel_subscription_at_period_end(settings, subscription, key)
    except stripe_gateway.GatewayError:
        db.session.delete(request)
        db.session.commit()
        raise
    change_requested.send(request, recurring=recurring)
    return request


def _new_amount(settings: Settings, recurring: RecurringSupport, text: str | None) -> int:
    if not recurring.currency or not recurring.frequency:
        raise InvalidChange("We do not know this gift's amount yet; try again later.")
    try:
        amount = money.parse_amount(text or "", recurring.currency)
    except money.InvalidAmount:
        raise InvalidChange("Enter an amount, such as 10 or 10.50.") from None
    rule = settings.amount_rule(recurring.frequency, recurring.currency)
    if not rule.minimum <= amount <= rule.maximum:
        low = money.format_money(rule.minimum, recurring.currency)
        high = money.format_money(rule.maximum, recurring.currency)
        raise InvalidChange(f"Choose an amount from {low} to {high}.")
    if amount == recurring.amount_minor:
        raise InvalidChange("That is the amount you give now.")
    return amount
