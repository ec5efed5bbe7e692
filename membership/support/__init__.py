"""Reader-facing giving: the support page, Stripe Checkout, thank-you and cancel pages."""

from membership.support.views import blueprint

__all__ = ["blueprint"]
