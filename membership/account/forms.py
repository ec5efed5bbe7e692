"""The account's forms: the address a sign-in link is asked for, and a new amount."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length

from membership.web.forms import email_field, strip_text


class SignInForm(FlaskForm):
    """``POST /account/sign-in``: one email address (shape checks only)."""

    email = email_field()


class AmountForm(FlaskForm):
    """A new amount for a recurring gift, in the gift's currency (checked in the service)."""

    amount = StringField(
        "New amount",
        filters=[strip_text],
        validators=[InputRequired(message="Enter an amount."), Length(max=20)],
    )
