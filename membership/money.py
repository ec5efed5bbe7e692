"""Money: currencies, minor units, parsing and formatting amounts.

An amount is always an ``int`` of minor units together with an ISO 4217 code.
Floats never appear: parsing goes through ``Decimal`` and formatting through
integer arithmetic or Babel's ``Decimal`` formatting.

Amounts are read and written in the reader's language (``membership.i18n``): "$5.00" and
"5.50" in English, "5,00 $" and "5,50" in Russian, from Babel's CLDR data.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_decimal_symbol

from membership.i18n import current_language, gettext

# Currencies whose minor unit is not 1/100. Everything else has exponent 2.
# Source: ISO 4217 and Stripe's list of zero-decimal / three-decimal currencies.
_EXPONENTS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "MGA": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "JOD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
}

# Stripe refuses charges below these (minor units); see Stripe's "minimum and
# maximum charge amounts". Currencies not listed fall back to the configured minimum.
STRIPE_MINIMUM_MINOR: dict[str, int] = {
    "USD": 50,
    "EUR": 50,
    "GBP": 30,
    "CAD": 50,
    "AUD": 50,
    "CHF": 50,
    "NZD": 50,
    "SEK": 300,
    "NOK": 300,
    "DKK": 250,
    "PLN": 200,
    "CZK": 1500,
    "HUF": 17500,
    "JPY": 50,
    "HKD": 400,
    "SGD": 50,
    "MXN": 1000,
    "BRL": 50,
    "INR": 50,
}

_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}

_MAX_WHOLE_DIGITS = 15  # far above any gift; keeps Decimal and integer columns in range
_CODE = re.compile(r"^[A-Z]{3}$")
_AMOUNT = re.compile(r"^\d+(?:\.\d+)?$")


class InvalidAmount(ValueError):
    """The text is not an amount this currency can hold."""


def is_currency_code(code: str) -> bool:
    """True for a syntactically valid ISO 4217 code (three upper-case letters)."""
    return bool(_CODE.match(code))


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    return _EXPONENTS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str, language: str | None = None) -> int:
    """Parse a major-unit amount typed by a reader ("5", "5.50", "1,000") into minor units.

    Read as the reader writes numbers (``language``, by default the one they are served
    in): in English "," groups thousands; in Russian "," is the decimal point ("10,50")
    and spaces group thousands. A "." is a decimal point in both.

    Raises InvalidAmount with a reader-facing sentence when the text is not a
    positive number or has more decimal places than the currency allows.
    """
    cleaned = _decimal_text(text, language or current_language())
    if not _AMOUNT.match(cleaned):
        raise InvalidAmount(gettext("Enter an amount as a number, such as 10 or 10.50."))
    places = exponent(currency)
    whole, _, fraction = cleaned.partition(".")
    if len(whole.lstrip("0")) > _MAX_WHOLE_DIGITS:
        raise InvalidAmount(gettext("That amount is too large."))
    if len(fraction.rstrip("0")) > places:
        if places == 0:
            raise InvalidAmount(
                gettext("%(currency)s amounts must be whole numbers.", currency=currency)
            )
        raise InvalidAmount(
            gettext(
                "%(currency)s amounts can have at most %(places)s decimal places.",
                currency=currency,
                places=places,
            )
        )
    try:
        minor = int(Decimal(cleaned).scaleb(places))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees a number
        raise InvalidAmount(gettext("Enter an amount as a number, such as 10 or 10.50.")) from exc
    if minor <= 0:
        raise InvalidAmount(gettext("Enter an amount greater than zero."))
    return minor


# Spaces readers (and Babel) put between groups of thousands: space, no-break, narrow.
_GROUP_SPACES = re.compile("[ \u00a0\u202f_]")


def _decimal_text(text: str, language: str) -> str:
    """What a reader typed, as ``Decimal`` reads it: groups dropped, "." the decimal point."""
    cleaned = _GROUP_SPACES.sub("", text.strip())
    if _locale_decimal_symbol(language) != ",":
        return cleaned.replace(",", "")
    if "," in cleaned and "." in cleaned:  # "1.000,50": the last of the two is the point
        group = "." if cleaned.rindex(",") > cleaned.rindex(".") else ","
        cleaned = cleaned.replace(group, "")
    return cleaned.replace(",", ".")


def _locale_decimal_symbol(language: str) -> str:
    try:
        return str(get_decimal_symbol(language.replace("-", "_")))
    except (ValueError, TypeError, LookupError):
        return "."


def to_minor(major: Decimal | int | str, currency: str) -> int:
    """Convert a configured major-unit amount (exact) into minor units."""
    value = Decimal(str(major)).scaleb(exponent(currency))
    if value != value.to_integral_value():
        raise InvalidAmount(f"{major} is not a whole number of {currency} minor units.")
    return int(value)


def format_plain(minor: int, currency: str) -> str:
    """Minor units as a bare major-unit number: 550 USD -> "5.50", 500 USD -> "5"."""
    places = exponent(currency)
    if places == 0:
        return str(minor)
    whole, fraction = divmod(abs(minor), 10**places)
    sign = "-" if minor < 0 else ""
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{places}d}"


def format_money(minor: int, currency: str, language: str | None = None) -> str:
    """Minor units for display in the reader's language (``language``, by default the one
    they are served in): "$5.00", "¥500", "12.50 CHF" in English, "5,00 $",
    "1 000,00 ₽" in Russian (Babel's CLDR patterns)."""
    language = language or current_language()
    if language != "en":
        value = Decimal(minor).scaleb(-exponent(currency))
        try:
            return str(format_currency(value, currency, locale=language.replace("-", "_")))
        except (ValueError, TypeError, LookupError):
            pass  # a language Babel does not know: the house style below
    places = exponent(currency)
    whole, fraction = divmod(abs(minor), 10**places)
    sign = "-" if minor < 0 else ""
    number = f"{whole:,}" if places == 0 else f"{whole:,}.{fraction:0{places}d}"
    symbol = _SYMBOLS.get(currency)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {currency}"
