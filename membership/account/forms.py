"""The account's forms: the address a sign-in link is asked for, and a new amount."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import Email, InputRequired, Length

from membership.web.forms import strip_text


class SignInForm(FlaskForm):
    """``POST /account/sign-in``: one email address (shape checks only)."""

    email = EmailField(
        "Your email",
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


class AmountForm(FlaskForm):
    """A new amount for a recurring gift, in the gift's currency (checked in the service)."""

    amount = StringField(
        "New amount",
        filters=[strip_text],
        validators=[InputRequired(message="Enter an amount."), Length(max=20)],
    )
