"""Reader-facing giving: what a reader may choose, and sending them to Stripe Checkout.

Views parse input and call these functions; every rule about amounts, and
every call to Stripe for a gift, lives here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from membership import money, stripe_gateway
from membership.attribution import source_of, tag_of
from membership.config import FREQUENCIES, Settings
from membership.extensions import db
from membership.i18n import asked_language, current_language, gettext, lazy_gettext
from membership.models import CheckoutAttempt, is_public_id, new_public_id
from membership.reminders.service import reminder_id_for_token, reminder_token_for_id
from membership.reports import rollups
from membership.vocabulary import ATTRIBUTION_FIELDS, Frequency

log = logging.getLogger(__name__)

FREQUENCY_LABELS = {frequency: frequency.label for frequency in Frequency}
# "Thank you for your monthly support of $5": one sentence each, for translations to agree.
SUPPORT_OF = {
    "once": lazy_gettext("one-time support of %(amount)s"),
    "monthly": lazy_gettext("monthly support of %(amount)s"),
    "annual": lazy_gettext("annual support of %(amount)s"),
}

_SESSION_ID = re.compile(r"^cs_(?:test|live)_[A-Za-z0-9]{1,250}$")
_REMINDER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class InvalidGift(ValueError):
    """The reader's choice cannot be accepted; ``field`` names the form field to flag."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AmountTooSmall(InvalidGift):
    pass


class AmountTooLarge(InvalidGift):
    pass


class StripeNotConfigured(RuntimeError):
    """Development mode: there is no Stripe key to open a Checkout Session with."""


class CheckoutUnavailable(RuntimeError):
    """Stripe failed to open a Checkout Session; nothing was stored, the reader may retry."""


class UnknownSession(LookupError):
    """The session id is malformed, unknown to Stripe, or not one of ours."""


@dataclass(frozen=True)
class Gift:
    """A validated choice: how often and how much."""

    frequency: str
    amount_minor: int
    currency: str

    @property
    def display(self) -> str:
        return whole_or_exact(self.amount_minor, self.currency)


@dataclass(frozen=True)
class Attribution:
    """Where the reader came from: the article or campaign, and UTM tags."""

    source: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    # The token of the "remind me later" email the reader came back through, if any.
    reminder: str | None = None

    @classmethod
    def from_mapping(cls, values: Any) -> Attribution:
        """From the support form or its query, as much as is kept (``attribution``)."""
        reminder = (values.get("reminder") or "").strip()
        fields = {name: tag_of(values.get(name)) for name in ATTRIBUTION_FIELDS}
        fields["source"] = source_of(values.get("source"))  # the page, not the reader's query
        return cls(**fields, reminder=reminder if _REMINDER_TOKEN.match(reminder) else None)

    def as_query(self) -> dict[str, str]:
        names = (*ATTRIBUTION_FIELDS, "reminder")
        return {name: value for name in names if (value := getattr(self, name))}


@dataclass(frozen=True)
class Preset:
    value: str
    label: str


@dataclass(frozen=True)
class SupportChoices:
    """What the support page offers and has preselected for one frequency and currency."""

    frequency: str
    currency: str
    currencies: tuple[str, ...]
    presets: tuple[Preset, ...]
    selected_preset: str | None
    custom_amount: str
    minimum: str
    maximum: str
    attribution: Attribution = field(default_factory=Attribution)

    def tab_query(self, frequency: str) -> str:
        query = {"frequency": frequency, "currency": self.currency, **self.attribution.as_query()}
        return urlencode(query)

    def reminder_query(self) -> dict[str, str]:
        """What "Remind me later" is about: the gift on the page (how often, how much, the
        currency) and the article; ``/remind-me`` names it, and its email leads back to it."""
        query = {"frequency": self.frequency, "currency": self.currency}
        amount = self.selected_preset or self.custom_amount
        if amount:
            query["amount"] = amount
        if self.attribution.source:
            query["source"] = self.attribution.source
        return query


def support_choices(
    settings: Settings,
    frequency: str | None,
    currency: str | None,
    amount: str | None,
    attribution: Attribution,
) -> SupportChoices:
    """Preselections for the support page; unknown values fall back to defaults quietly."""
    frequency = frequency if frequency in FREQUENCIES else "monthly"
    currency = (currency or "").upper()
    if currency not in settings.currencies:
        currency = settings.default_currency
    rule = settings.amount_rule(frequency, currency)
    presets = tuple(
        Preset(money.format_plain(p, currency), whole_or_exact(p, currency)) for p in rule.presets
    )
    selected, custom = None, ""
    if amount:
        try:
            minor = money.parse_amount(amount, currency)
        except money.InvalidAmount:
            minor = None
        if minor is not None and minor in rule.presets:
            selected = money.format_plain(minor, currency)
        elif minor is not None:
            custom = money.format_plain(minor, currency)
    if selected is None and not custom and presets:
        selected = presets[len(presets) // 2].value
    return SupportChoices(
        frequency=frequency,
        currency=currency,
        currencies=settings.currencies,
        presets=presets,
        selected_preset=selected,
        custom_amount=custom,
        minimum=whole_or_exact(rule.minimum, currency),
        maximum=whole_or_exact(rule.maximum, currency),
        attribution=attribution,
    )


def whole_or_exact(minor: int, currency: str) -> str:
    """An amount as readers say it: "$5" for a whole one, "$5.50" otherwise, never "$5.00".

    Drops the zero decimals from whatever ``money.format_money`` writes ("$5.00",
    "5,00 €", "12.00 CHF"), so it follows that function's symbols and separators.
    """
    text = money.format_money(minor, currency)
    places = money.exponent(currency)
    if places == 0 or minor % 10**places:
        return text
    return re.sub(rf"[.,]0{{{places}}}(?=\D*$)", "", text, count=1)


def make_gift(settings: Settings, frequency: str, currency: str, amount_text: str) -> Gift:
    """Validate a reader's choice against the configured rules for that frequency and currency."""
    if frequency not in FREQUENCIES:
        raise InvalidGift("frequency", gettext("Choose Once, Monthly or Annual."))
    currency = currency.strip().upper()
    if currency not in settings.currencies:
        accepted = ", ".join(settings.currencies)
        raise InvalidGift(
            "currency",
            gettext("Choose one of the currencies we accept: %(currencies)s.", currencies=accepted),
        )
    if not amount_text.strip():
        raise InvalidGift("amount", gettext("Choose an amount or enter your own."))
    try:
        minor = money.parse_amount(amount_text, currency)
    except money.InvalidAmount as exc:
        raise InvalidGift("amount", str(exc)) from exc
    rule = settings.amount_rule(frequency, currency)
    if minor < rule.minimum:
        smallest = whole_or_exact(rule.minimum, currency)
        raise AmountTooSmall(
            "amount", gettext("The smallest amount is %(amount)s.", amount=smallest)
        )
    if minor > rule.maximum:
        largest = whole_or_exact(rule.maximum, currency)
        raise AmountTooLarge(
            "amount",
            gettext(
                "The largest amount we take online is %(amount)s. "
                "Please contact us for larger gifts.",
                amount=largest,
            ),
        )
    return Gift(frequency=frequency, amount_minor=minor, currency=currency)


@dataclass(frozen=True)
class OpenedCheckout:
    url: str  # Stripe's page, where the reader goes next
    attempt_id: str


def start_checkout(
    settings: Settings, gift: Gift, attribution: Attribution, email: str | None
) -> OpenedCheckout:
    """Open a Stripe Checkout Session for the gift, record the attempt, return Stripe's URL.

    Stripe is called first and the attempt stored after, in one insert, so a
    Stripe failure leaves no row and a stored row always has its session id. Nothing
    touches the database before Stripe answers: the wait (hundreds of milliseconds)
    holds no pooled connection and no transaction.

    The reader's language goes with the gift: Checkout speaks it (Stripe's ``locale``),
    the pages Stripe sends the reader back to ask for it, and the attempt keeps it for
    the supporter's emails.
    """
    if not settings.stripe_enabled:
        raise StripeNotConfigured()
    attempt_id = new_public_id()
    language = current_language()
    # The default language needs no asking (and keeps the return addresses as they were).
    asked = f"&{urlencode({'lang': language})}" if asked_language(language) else ""
    request = stripe_gateway.CheckoutRequest(
        attempt_id=attempt_id,
        frequency=gift.frequency,
        amount_minor=gift.amount_minor,
        currency=gift.currency,
        email=email,
        success_url=(
            f"{settings.public_base_url}/support/thank-you?session_id={{CHECKOUT_SESSION_ID}}"
            f"{asked}"
        ),
        # Only the attempt: the page it leads back to reads the gift and where the reader
        # came from (a reminder's token included) from it, so Stripe sees none of them.
        cancel_url=f"{settings.public_base_url}/support/cancelled?attempt={attempt_id}{asked}",
        payment_method_configuration=settings.identity.stripe_payment_method_configuration,
        language=language,
    )
    try:
        session = stripe_gateway.create_checkout_session(settings, request)
    except stripe_gateway.GatewayError as exc:
        log.warning("checkout attempt %s not opened: %s", attempt_id, exc)
        raise CheckoutUnavailable() from exc
    attempt = CheckoutAttempt(
        id=attempt_id,
        frequency=gift.frequency,
        amount_minor=gift.amount_minor,
        currency=gift.currency,
        stripe_session_id=session.id,
        language=language,
        reminder_id=reminder_id_for_token(attribution.reminder),
        **{name: getattr(attribution, name) for name in ATTRIBUTION_FIELDS},
    )
    rollups.insert_counted(attempt)
    log.info("checkout attempt %s opened session %s", attempt_id, session.id)
    return OpenedCheckout(session.url, attempt_id)


@dataclass(frozen=True)
class Confirmation:
    """What the thank-you page may say about a Checkout Session."""

    paid: bool
    gift: Gift | None

    @property
    def description(self) -> str:
        if self.gift is None:
            return ""
        return str(SUPPORT_OF[self.gift.frequency]) % {"amount": self.gift.display}


def confirm_checkout(settings: Settings, session_id: str) -> Confirmation:
    """Ask Stripe how a Checkout Session ended; paid only when Stripe says complete and paid."""
    if not _SESSION_ID.match(session_id):
        raise UnknownSession(session_id)
    if not settings.stripe_enabled:
        raise StripeNotConfigured()
    # Only sessions this app opened: anything else would let anyone spend our Stripe
    # rate limit by hitting this page with made-up ids.
    known = db.session.scalar(
        select(CheckoutAttempt.id).where(CheckoutAttempt.stripe_session_id == session_id)
    )
    db.session.rollback()  # ends the look-up's transaction: the wait on Stripe holds none
    if known is None:
        raise UnknownSession(session_id)
    try:
        session = stripe_gateway.retrieve_checkout_session(settings, session_id)
    except stripe_gateway.NotFound as exc:
        raise UnknownSession(session_id) from exc
    except stripe_gateway.GatewayError as exc:
        raise CheckoutUnavailable() from exc
    paid = session.get("status") == "complete" and session.get("payment_status") in (
        "paid",
        "no_payment_required",
    )
    if not paid:
        return Confirmation(paid=False, gift=None)
    frequency = (session.get("metadata") or {}).get("frequency")
    if frequency not in FREQUENCIES:
        frequency = "once" if session.get("mode") == "payment" else None
    currency = str(session.get("currency") or "").upper()
    amount = session.get("amount_total")
    if frequency is None or not currency or not isinstance(amount, int):
        return Confirmation(paid=True, gift=None)
    return Confirmation(paid=True, gift=Gift(frequency, amount, currency))


def choices_after_cancel(attempt_id: str | None) -> dict[str, str]:
    """The fields of the support page for a reader back from Checkout without paying: the
    gift and attribution of the attempt they left from (``start_checkout``'s cancel_url),
    the reminder's token included. Only for the browser that opened it (the view checks)
    and while it is still open; nothing for an id this app did not issue."""
    if not is_public_id(attempt_id):
        return {}
    attempt = db.session.get(CheckoutAttempt, attempt_id)
    if attempt is None or attempt.status != "open":
        return {}
    fields = {
        "frequency": attempt.frequency,
        "currency": attempt.currency,
        "amount": money.format_plain(attempt.amount_minor, attempt.currency),
        **{name: value for name in ATTRIBUTION_FIELDS if (value := getattr(attempt, name))},
    }
    token = reminder_token_for_id(attempt.reminder_id)
    if token:
        fields["reminder"] = token
    return fields
