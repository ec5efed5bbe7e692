"""What every form shares."""

from __future__ import annotations

from wtforms import EmailField
from wtforms.validators import Email, InputRequired, Length

# A field longer than its column, whatever the field: the one message readers see.
TOO_LONG = "This is longer than we can accept."


def strip_text(value: str | None) -> str | None:
    """A WTForms filter: text without the spaces around it (a pasted address has them)."""
    return value.strip() if isinstance(value, str) else value


def email_field(label: str = "Your email") -> EmailField:
    """A reader's email address, as every form asks for it: required, at most 254
    characters (what SMTP carries), of an address's shape; never looked up in DNS (that
    would tell a resolver whom we are asked to write to)."""
    return EmailField(
        label,
        filters=[strip_text],
        validators=[
            InputRequired(message="Enter your email address."),
            Length(max=254, message="An email address is at most 254 characters."),
            Email(
                message="Enter a valid email address, such as name@example.org.",
                check_deliverability=False,
            ),
        ],
    )
