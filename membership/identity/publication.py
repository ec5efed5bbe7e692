"""The publication as templates see it, and the payment methods readers are shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from flask import current_app, url_for

from membership.identity.settings import PAYMENT_METHOD_LABELS, IdentitySettings

if TYPE_CHECKING:
    from membership.config import Settings


@dataclass(frozen=True)
class Publication:
    """What every template (pages and emails) knows of the newsroom as ``publication``."""

    name: str
    site_url: str | None
    privacy_policy_url: str | None
    terms_url: str | None
    # Root-relative (``/publication/logo.svg``) for pages, whatever host serves them.
    logo_url: str | None
    # The same logo with PUBLIC_BASE_URL in front, for emails; None without a logo.
    logo_absolute_url: str | None
    accent_colour: str


class PaymentMethod(NamedTuple):
    """One method in the row under Continue: what it is called and its icon on this app."""

    label: str
    icon_url: str


def current_identity() -> IdentitySettings:
    """The identity settings of the app handling the current request or command."""
    identity: IdentitySettings = current_app.extensions["membership.settings"].identity
    return identity


def logo_path_for(identity: IdentitySettings) -> str | None:
    """Where this app serves the logo (``identity.views``), or None without one."""
    return f"/publication/logo{identity.logo_suffix}" if identity.logo_suffix else None


def publication() -> Publication:
    """The publication of the current app, for templates and senders."""
    return publication_of(current_app.extensions["membership.settings"])


def publication_of(settings: Settings) -> Publication:
    """The publication ``settings`` describe."""
    identity = settings.identity
    logo = logo_path_for(identity)
    return Publication(
        name=identity.publication_name,
        site_url=identity.site_url,
        privacy_policy_url=identity.privacy_policy_url,
        terms_url=identity.terms_url,
        logo_url=logo,
        logo_absolute_url=f"{settings.public_base_url}{logo}" if logo else None,
        accent_colour=identity.accent_colour,
    )


def payment_methods() -> list[PaymentMethod]:
    """The payment methods to show, in PAYMENT_METHODS' order, with icons from static/."""
    return [
        PaymentMethod(
            PAYMENT_METHOD_LABELS[code],
            url_for("static", filename=f"payment-methods/{code}.svg"),
        )
        for code in current_identity().payment_methods
    ]
