"""What the article footer offers, and whose Continue it accepts.

The footer asks the same questions as the support page, so the offer comes from the
support service (``support_choices``, one per frequency) and a Continue is validated and
opened by it (``make_gift``, ``start_checkout``): this module only adds what embedding
changes, the footer's field names and the check of where a Continue comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from membership.config import Settings
from membership.i18n import gettext
from membership.support import service as support
from membership.support.forms import CheckoutForm
from membership.vocabulary import ATTRIBUTION_FIELDS, Frequency
from membership.web import cors

# The order readers see the choices in; monthly is the one chosen at first.
FOOTER_FREQUENCIES = (Frequency.ONCE, Frequency.MONTHLY, Frequency.ANNUAL)
DEFAULT_FREQUENCY = Frequency.MONTHLY


class RefusedOrigin(PermissionError):
    """A Continue from a page that is neither an article page nor this app's footer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidChoice(ValueError):
    """The footer's Continue cannot be accepted; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Footer:
    """One footer as rendered: the choices of each frequency, the one preselected."""

    frequency: str
    currency: str
    offers: tuple[support.SupportChoices, ...]  # in FOOTER_FREQUENCIES' order
    from_just: str  # the smallest monthly gift: "from just $2"
    source: str | None

    def offer(self, frequency: str) -> support.SupportChoices:
        return next(offer for offer in self.offers if offer.frequency == frequency)


def footer(
    settings: Settings,
    *,
    frequency: str | None,
    currency: str | None,
    amount: str | None,
    source: str | None,
) -> Footer:
    """The footer an article asked for (``data-frequency``, ``data-amount``, its page):
    each frequency's presets, ``amount`` preselected in ``frequency``'s. Unknown values
    fall back to the defaults quietly, as on the support page."""
    chosen = frequency if frequency in FOOTER_FREQUENCIES else DEFAULT_FREQUENCY
    attribution = support.Attribution.from_mapping({"source": source})
    offers = tuple(
        support.support_choices(
            settings,
            frequency=option,
            currency=currency,
            amount=amount if option == chosen else None,
            attribution=attribution,
        )
        for option in FOOTER_FREQUENCIES
    )
    monthly = next(offer for offer in offers if offer.frequency == Frequency.MONTHLY)
    return Footer(
        frequency=chosen,
        currency=monthly.currency,
        offers=offers,
        from_just=monthly.minimum,  # as the support page writes amounts
        source=attribution.source,
    )


def checkout_fields(values: Mapping[str, Any]) -> dict[str, str]:
    """The footer's Continue as ``/support/checkout``'s form names its fields.

    The footer has one group of presets per frequency (``amount_monthly``, ...) so that it
    works without a script; the amount is the one chosen in the chosen frequency's group,
    unless the script or the reader sent ``amount`` itself. A typed ``custom_amount``
    still wins, as on the support page (``CheckoutForm.chosen_amount``).
    """
    text = {name: value for name, value in values.items() if isinstance(value, str)}
    frequency = text.get("frequency", "")
    amount = text.get("amount") or (text.get(f"amount_{frequency}", "") if frequency else "")
    fields = {
        "frequency": frequency,
        "currency": text.get("currency", ""),
        "amount": amount,
        "custom_amount": text.get("custom_amount", ""),
    }
    fields.update({name: text[name] for name in ATTRIBUTION_FIELDS if name in text})
    return fields


def choose_gift(settings: Settings, form: CheckoutForm) -> support.Gift:
    """The gift a Continue asks for, checked as the support page checks it: the form's
    shape checks, then the support service's rules (``make_gift``).

    :raise InvalidChoice: with every message, field by field.
    """
    errors = {} if form.validate() else {f.name: str(f.errors[0]) for f in form if f.errors}
    if errors:
        raise InvalidChoice(errors)
    currency = form.currency.data or settings.default_currency
    try:
        return support.make_gift(
            settings, form.frequency.data or "", currency, form.chosen_amount()
        )
    except support.InvalidGift as exc:
        raise InvalidChoice({exc.field: exc.message}) from exc


def check_origin(settings: Settings, origin: str | None, *, framed_footer: bool) -> None:
    """Accept a Continue only from an article page (``CORS_ALLOWED_ORIGINS``) or, for the
    framed footer's form (``framed_footer``), from this app's own origin.

    Why ``Origin``, and not a CSRF token: in an article's iframe the browser does not send
    our SameSite=Lax session cookie, so a session's token cannot be checked; a signed
    token without a session can be fetched by any site from our public footer, so it
    would prove nothing about who posted. ``Origin`` is set by the browser on every POST
    and no page can forge it; the framed footer is our own origin posting, and only the
    article origins may frame it (``frame-ancestors``).

    :raise RefusedOrigin: with the reason, when ``origin`` is missing or another site's.
    """
    if not origin or origin == "null":
        raise RefusedOrigin(
            gettext(
                "This request does not say which page it comes from (no Origin header), so "
                "it cannot be accepted. Continue from an article page or from our support page."
            )
        )
    own = _origin_of(settings.public_base_url)
    if cors.is_article_origin(origin) or (framed_footer and origin.rstrip("/").lower() == own):
        return
    raise RefusedOrigin(
        gettext(
            "Gifts are accepted from the newsroom's article pages only, not from %(origin)s. "
            "Continue on our support page instead.",
            origin=origin,
        )
    )


def origin_of_request(origin: str | None, referer: str | None) -> str | None:
    """The page a request comes from, as an origin: its ``Origin`` header, else its
    ``Referer``'s origin (a browser that leaves ``Origin`` out of a form post still sends
    the referrer of our own framed footer, whose pages send it to their own origin)."""
    if origin:
        return origin
    return _origin_of(referer) if referer else None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
