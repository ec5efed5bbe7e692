"""The "remind me later" form: shape checks; dates and amounts are checked in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length

from membership.web.forms import TOO_LONG, email_field, strip_text


class ReminderForm(FlaskForm):
    """What the sign-up form (and the footer widget's JSON) sends to ``POST /remind-me``."""

    class Meta:
        # The view checks the form's CSRF token itself, before this form is built, so that
        # JSON from the article widget can share the form (see views.remind_me).
        csrf = False

    email = email_field()
    # 1w, 1m, 3m, a date YYYY-MM-DD, or "date" (the form's date field says which).
    when = StringField("When", filters=[strip_text], validators=[Length(max=20, message=TOO_LONG)])
    date = StringField("Date", filters=[strip_text], validators=[Length(max=20, message=TOO_LONG)])
    # What the reader was considering, from the article: dropped when not valid, never
    # refused (``service.consideration_of``).
    frequency = HiddenField()
    amount = HiddenField()
    currency = HiddenField()
    source = HiddenField()  # the page: cut to size, never refused (``attribution``)

    def chosen_when(self) -> str:
        """The form's radio says "date" when the reader picked a day in the date field."""
        when = self.when.data or ""
        return (self.date.data or "") if when == "date" else when

    def values(self) -> dict[str, str]:
        """The submitted fields as the service reads them."""
        return {
            "email": self.email.data or "",
            "when": self.chosen_when(),
            "frequency": self.frequency.data or "",
            "amount": self.amount.data or "",
            "currency": self.currency.data or "",
            "source": self.source.data or "",
        }

    def field_errors(self) -> dict[str, str]:
        """The first message of each field that failed its shape checks."""
        return {field.name: str(field.errors[0]) for field in self if field.errors}
