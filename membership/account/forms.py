"""The account's forms: the address a sign-in link is asked for, a new amount, a pause's
length, and the confirmation that erases a supporter's data."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from membership.i18n import lazy_gettext
from membership.web.forms import email_field, strip_text

# How long a supporter may pause a recurring gift from their page, in months.
PAUSE_MONTHS = (1, 2, 3)


class SignInForm(FlaskForm):
    """``POST /account/sign-in``: one email address (shape checks only)."""

    email = email_field()


class AmountForm(FlaskForm):
    """A new amount for a recurring gift, in the gift's currency (checked in the service):
    for a change of amount, or for the gift after a switch of frequency."""

    amount = StringField(
        lazy_gettext("New amount"),
        filters=[strip_text],
        validators=[InputRequired(message=lazy_gettext("Enter an amount.")), Length(max=20)],
    )


class PauseForm(FlaskForm):
    """How many months to pause a recurring gift for."""

    months = SelectField(
        lazy_gettext("Pause for"),
        choices=[(str(n), str(n)) for n in PAUSE_MONTHS],
        validators=[InputRequired(message=lazy_gettext("Choose 1, 2 or 3 months."))],
    )


class EraseForm(FlaskForm):
    """The second confirmation before everything held about a supporter is erased."""

    confirm = BooleanField(
        lazy_gettext("I understand: my gifts stop and my data cannot be brought back."),
        validators=[DataRequired(message=lazy_gettext("Tick the box to confirm."))],
    )
