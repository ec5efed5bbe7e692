"""Stripe webhooks: verify and store each event once, then hand it to the ledger."""

from flask import Flask


def init_app(app: Flask) -> None:
    """``POST /stripe/webhook`` and ``flask stripe`` (sync, replay, forget-payloads)."""
    from membership.webhooks.cli import stripe_cli
    from membership.webhooks.views import blueprint

    app.register_blueprint(blueprint)
    app.cli.add_command(stripe_cli)
