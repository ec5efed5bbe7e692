"""The newsroom's identity settings, read from the environment once, checked at start-up.

``membership.config`` calls ``load_identity`` while it builds ``Settings`` (they are then
``Settings.identity``); a malformed value stops the app with a sentence that says what
to set, as every other setting does. Nothing here is required: the defaults keep a
fresh checkout and the tests running, and a newsroom sets its own before going live.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from membership.identity import contrast

DEFAULT_NAME = "Our newsroom"
DEFAULT_ACCENT = "#0b5cad"

# The payment methods the row under Continue may show, in the order given, each with its
# label and its icon under static/payment-methods/. Stripe decides what Checkout offers
# (its Dashboard, or STRIPE_PAYMENT_METHOD_CONFIGURATION); this setting only says what
# to show readers before they get there, so keep the two in step.
PAYMENT_METHOD_LABELS: dict[str, str] = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "discover": "Discover",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    "link": "Link",
    "paypal": "PayPal",
    "sepa_debit": "SEPA Direct Debit",
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "klarna": "Klarna",
}
DEFAULT_PAYMENT_METHODS = ("visa", "mastercard", "amex", "apple_pay", "google_pay")

# Images a browser shows in an <img> and the type each is served with.
LOGO_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}

_PAYMENT_METHOD_CONFIGURATION = re.compile(r"^pmc_[A-Za-z0-9]{1,250}$")


@dataclass(frozen=True)
class IdentitySettings:
    """Who the newsroom is, as readers see it on every page and email."""

    publication_name: str = DEFAULT_NAME
    # The newsroom's own site (where articles live); None: the name is not a link.
    site_url: str | None = None
    privacy_policy_url: str | None = None
    terms_url: str | None = None
    # A file on this server, served at /publication/logo<suffix>; None: the name alone.
    logo_path: Path | None = None
    accent_colour: str = DEFAULT_ACCENT
    payment_methods: tuple[str, ...] = DEFAULT_PAYMENT_METHODS
    # Stripe's payment-method configuration (pmc_...) Checkout uses; None: the account's default.
    stripe_payment_method_configuration: str | None = None

    @property
    def logo_suffix(self) -> str | None:
        return self.logo_path.suffix.lower() if self.logo_path else None


def load_identity(
    env_vars: Mapping[str, str], instance_path: str | None = None
) -> IdentitySettings:
    """IdentitySettings from environment variables; raises ``ConfigError`` with a sentence."""
    name = " ".join(env_vars.get("PUBLICATION_NAME", "").split()) or DEFAULT_NAME
    if len(name) > 120:
        _refuse("PUBLICATION_NAME must be at most 120 characters: it heads every page.")
    return IdentitySettings(
        publication_name=name,
        site_url=_web_address(env_vars, "PUBLICATION_SITE_URL", "https://news.example.org"),
        privacy_policy_url=_web_address(
            env_vars, "PRIVACY_POLICY_URL", "https://news.example.org/privacy"
        ),
        terms_url=_web_address(env_vars, "TERMS_URL", "https://news.example.org/terms"),
        logo_path=_logo(env_vars.get("PUBLICATION_LOGO", "").strip(), instance_path),
        accent_colour=_accent(env_vars.get("ACCENT_COLOUR", "").strip()),
        payment_methods=_payment_methods(env_vars.get("PAYMENT_METHODS")),
        stripe_payment_method_configuration=_payment_method_configuration(
            env_vars.get("STRIPE_PAYMENT_METHOD_CONFIGURATION", "").strip()
        ),
    )


def _refuse(sentence: str) -> None:
    from membership.config import ConfigError  # config imports this module

    raise ConfigError(sentence)


def _web_address(env_vars: Mapping[str, str], name: str, example: str) -> str | None:
    value = env_vars.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _refuse(f"{name} must be a web address such as {example}, not {value!r}.")
    return value


def _logo(value: str, instance_path: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = Path(instance_path or "instance") / path
    if path.suffix.lower() not in LOGO_TYPES:
        _refuse(
            f"PUBLICATION_LOGO must be an image file ({', '.join(sorted(LOGO_TYPES))}), "
            f"not {value!r}."
        )
    if not path.is_file():
        _refuse(
            f"PUBLICATION_LOGO names {str(path)!r}, which is not a file on this server: "
            "give a path relative to the instance folder, or an absolute one."
        )
    return path.resolve()


def _accent(value: str) -> str:
    if not value:
        return DEFAULT_ACCENT
    if not contrast.is_hex_colour(value):
        _refuse(f"ACCENT_COLOUR must be a colour written #rrggbb, such as #0b5cad, not {value!r}.")
    ratio = contrast.contrast_ratio(value, "#ffffff")
    if ratio < contrast.TEXT_CONTRAST:
        _refuse(
            f"ACCENT_COLOUR {value} is too light: white text on it (the Continue button) has "
            f"a contrast of {ratio:.1f}:1, and readers need at least "
            f"{contrast.TEXT_CONTRAST}:1. Choose a darker shade."
        )
    return value.lower()


def _payment_methods(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_PAYMENT_METHODS
    codes = tuple(dict.fromkeys(c.strip().lower() for c in raw.split(",") if c.strip()))
    unknown = [code for code in codes if code not in PAYMENT_METHOD_LABELS]
    if unknown:
        _refuse(
            f"PAYMENT_METHODS has {', '.join(unknown)}, which this app has no icon for; "
            f"choose from {', '.join(PAYMENT_METHOD_LABELS)} (or leave it empty for no row)."
        )
    return codes


def _payment_method_configuration(value: str) -> str | None:
    if not value:
        return None
    if not _PAYMENT_METHOD_CONFIGURATION.match(value):
        _refuse(
            "STRIPE_PAYMENT_METHOD_CONFIGURATION must be the id of a payment method "
            f"configuration from Stripe's Dashboard, such as pmc_1Nx..., not {value!r}."
        )
    return value
