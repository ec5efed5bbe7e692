"""The footer's Continue: the support form's fields and checks, without its CSRF token."""

from __future__ import annotations

from membership.support.forms import CheckoutForm


class FooterCheckoutForm(CheckoutForm):
    """What the footer's Continue sends to ``/embed/checkout``, as form or JSON, mapped to
    the support form's names (``service.checkout_fields``).

    No CSRF token: the framed footer is in an article's iframe, where our session cookie
    does not travel; the view checks ``Origin`` instead (``service.check_origin``).
    """

    class Meta:
        csrf = False
