"""Whole numbers typed or sent as text: ASCII digits only.

``str.isdigit()`` is also true of "²" and "١٢٣", which ``int()`` refuses (or reads as
another number) and ``hmac.compare_digest`` cannot compare: checked with it alone, such
input reached a 500. Every check of "is this a number" goes through here.
"""

from __future__ import annotations


def is_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 and nothing else."""
    return text.isascii() and text.isdigit()


def whole_number(text: str) -> int | None:
    """The number ``text`` spells in 0-9, or None."""
    return int(text) if is_digits(text) else None
