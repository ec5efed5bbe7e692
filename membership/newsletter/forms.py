"""The newsletter sign-up form: shape checks; consent and language are checked in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length

from membership.web.forms import TOO_LONG, email_field, strip_text


class NewsletterForm(FlaskForm):
    """What the sign-up page (and an article's widget, as JSON) sends to ``POST /newsletter``."""

    class Meta:
        # The view checks a form post's CSRF token itself, so that JSON can share the form.
        csrf = False

    email = email_field()
    # A checkbox ("on") from the page, ``true`` from JSON: the service says what counts.
    consent = StringField(
        "Consent", filters=[strip_text], validators=[Length(max=10, message=TOO_LONG)]
    )
    lang = StringField(
        "Language", filters=[strip_text], validators=[Length(max=35, message=TOO_LONG)]
    )
    source = HiddenField()  # the page: cut to what attribution keeps, never refused

    def values(self) -> dict[str, str]:
        """The submitted fields as the service reads them."""
        return {
            "email": self.email.data or "",
            "consent": self.consent.data or "",
            "lang": self.lang.data or "",
            "source": self.source.data or "",
        }

    def field_errors(self) -> dict[str, str]:
        """The first message of each field that failed its shape checks."""
        return {field.name: str(field.errors[0]) for field in self if field.errors}
