"""The support form: shape and length checks; amount rules live in the service."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import Email, Length, Optional

from membership.i18n import lazy_gettext
from membership.web.forms import TOO_LONG, strip_text


class CheckoutForm(FlaskForm):
    """What Continue posts to ``/support/checkout``."""

    frequency = HiddenField("Frequency")
    currency = HiddenField("Currency")
    amount = StringField("Amount", validators=[Length(max=32, message=TOO_LONG)])
    custom_amount = StringField(
        "Other amount",
        validators=[Length(max=32, message=lazy_gettext("Enter an amount, such as 10 or 10.50."))],
    )
    email = EmailField(
        "Email (optional)",
        filters=[strip_text],
        validators=[
            Optional(),
            Length(max=254, message=lazy_gettext("An email address is at most 254 characters.")),
            Email(
                message=lazy_gettext("Enter a valid email address, such as name@example.org."),
                check_deliverability=False,
            ),
        ],
    )
    # Where the reader came from: cut to size, never refused (``attribution``), and a
    # reminder token that is not one is ignored (``service.Attribution.from_mapping``).
    source = HiddenField()
    utm_source = HiddenField()
    utm_medium = HiddenField()
    utm_campaign = HiddenField()
    utm_content = HiddenField()
    reminder = HiddenField()

    def chosen_amount(self) -> str:
        """A typed amount wins over a preset, as the reader would expect."""
        return (self.custom_amount.data or "").strip() or (self.amount.data or "").strip()
