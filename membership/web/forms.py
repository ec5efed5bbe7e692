"""What every form shares."""

from __future__ import annotations

# A field longer than its column, whatever the field: the one message readers see.
TOO_LONG = "This is longer than we can accept."


def strip_text(value: str | None) -> str | None:
    """A WTForms filter: text without the spaces around it (a pasted address has them)."""
    return value.strip() if isinstance(value, str) else value
