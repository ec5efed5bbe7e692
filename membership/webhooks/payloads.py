"""What of a Stripe event is kept: what the handlers read, not the card, billing, shipping
and contact details Stripe sends along.

Stripe's objects carry the cardholder's name and address, the card's brand, last four
digits, expiry and fingerprint, phone numbers, the customer's IP address and receipt
links. No handler reads them, and stored they would sit in every backup of the events
table until ``forget-payloads`` blanks it. Each event is therefore processed from what is
kept, so that replaying it later gives the same result as the first time, and stored as
such; an event no handler reads, or one ignored for its mode, keeps no payload at all (its
row still marks it as seen, so a redelivery is still recognised).
"""

from __future__ import annotations

import json
from typing import Any

# Keys whose values are personal or payment details, wherever they appear in an object,
# except in ``metadata`` (the app's own keys, which handlers read).
PERSONAL_KEYS = frozenset(
    {
        "address",
        "billing_details",
        "card",
        "custom_fields",
        "customer_acceptance",
        "customer_address",
        "customer_phone",
        "customer_shipping",
        "customer_tax_ids",
        "enhanced_evidence",
        "evidence",  # a dispute's: billing and shipping addresses, IP, name, signature
        "business_name",
        "customer_name",
        "fingerprint",
        "hosted_invoice_url",  # opens Stripe's invoice page: name, email, address
        "individual_name",
        "invoice_pdf",
        "ip_address",
        "last4",
        "payment_method_details",
        "phone",
        "receipt_email",
        "receipt_number",
        "receipt_url",
        "shipping",
        "shipping_details",
        "tax_ids",
        "user_agent",
    }
)
# What a payload becomes once forgotten, or when none is kept: valid JSON, no personal data.
NO_PAYLOAD = "{}"
# Stripe's events nest about ten deep, expanded objects a few more; far deeper, and
# storing the payload (``json.dumps`` recurses) could run out of stack.
MAX_DEPTH = 64
_LONE_SURROGATE = "a string with a lone surrogate (not Unicode)"


def unstorable(event: dict[str, Any], *, strings: bool = True) -> str | None:
    """Why this event (parsed JSON) cannot be processed and stored, or None: nested deeper
    than ``MAX_DEPTH``, or a string (key or value) with a lone surrogate (``"\\udc80"``,
    which no database stores and Stripe's UTF-8 cannot carry). Loops, no recursion.
    ``strings=False`` when the body holds no surrogate escape: only the depth is checked."""
    level: list[Any] = [event]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return f"JSON nested deeper than {MAX_DEPTH} levels"
        children: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is dict:
                if strings and not all(_is_unicode(key) for key in item):
                    return _LONE_SURROGATE
                children += item.values()
            elif kind is list:
                children += item
            elif strings and kind is str and not _is_unicode(item):
                return _LONE_SURROGATE
        level = children
    return None


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def without_personal_details(value: Any) -> Any:
    """The event (or any part of it) without the ``PERSONAL_KEYS``, changed in place: the
    dict is the one just parsed from the request body, owned by the caller. A loop over a
    stack, not recursion: it runs for every event, on the webhook path."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            for key in PERSONAL_KEYS.intersection(item):
                del item[key]
            if type(item.get("source")) is dict:  # a charge's card, in older API versions
                del item["source"]
            if item.get("object") == "customer":
                item.pop("name", None)
            if type(item.get("customer_details")) is dict:  # a checkout's payer
                item["customer_details"].pop("name", None)
            stack.extend(
                child
                for key, child in item.items()
                if (type(child) is dict and key != "metadata") or type(child) is list
            )
        else:
            stack.extend(child for child in item if type(child) in (dict, list))
    return value


def payload_to_store(event: dict[str, Any], *, kept: bool) -> str:
    """The JSON stored for an event already stripped (``without_personal_details``): all of
    it when a handler may read it again (replay), else nothing."""
    return json.dumps(event, separators=(",", ":"), check_circular=False) if kept else NO_PAYLOAD
