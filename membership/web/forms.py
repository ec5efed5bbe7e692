"""What every form shares."""

from __future__ import annotations

from typing import Any

from wtforms import EmailField
from wtforms.validators import Email, InputRequired, Length

from membership.i18n import lazy_gettext

# A field longer than its column, whatever the field: the one message readers see.
TOO_LONG = lazy_gettext("This is longer than we can accept.")


def strip_text(value: str | None) -> str | None:
    """A WTForms filter: text without the spaces around it (a pasted address has them)."""
    return value.strip() if isinstance(value, str) else value


def email_field(label: Any = None) -> EmailField:
    """A reader's email address, as every form asks for it: required, at most 254
    characters (what SMTP carries), of an address's shape; never looked up in DNS (that
    would tell a resolver whom we are asked to write to)."""
    return EmailField(
        label if label is not None else lazy_gettext("Your email"),
        filters=[strip_text],
        validators=[
            InputRequired(message=lazy_gettext("Enter your email address.")),
            Length(max=254, message=lazy_gettext("An email address is at most 254 characters.")),
            Email(
                message=lazy_gettext("Enter a valid email address, such as name@example.org."),
                check_deliverability=False,
            ),
        ],
    )
