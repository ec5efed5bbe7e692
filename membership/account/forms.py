"""The account's forms: the address a sign-in link is asked for, and a new amount."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import Email, InputRequired, Length


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SignInForm(FlaskForm):
    """``POST /account/sign-in``: one email address (shape checks only)."""

    email = EmailField(
        "Your email",
        filters=[_strip],
        validators=[
            InputRequired(message="Enter your email address."),
            Length(max=254, message="An email address is at most 254 characters."),
            Email(
                message="Enter a valid email address, such as name@example.org.",
                check_deliverability=False,
            ),
        ],
    )


class AmountForm(FlaskForm):
    """A new amount for a recurring gift, in the gift's currency (checked in the service)."""

    amount = StringField(
        "New amount",
        filters=[_strip],
        validators=[InputRequired(message="Enter an amount."), Length(max=20)],
    )
