"""Stripe webhooks: verify and store each event once, then hand it to the ledger."""

from membership.webhooks.views import blueprint

__all__ = ["blueprint"]
