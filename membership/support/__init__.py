"""Reader-facing giving: the support page, Stripe Checkout, thank-you and cancel pages."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The support pages, with ``/`` leading to them."""
    from membership.support.views import blueprint, redirect_to_support

    app.register_blueprint(blueprint)
    app.add_url_rule("/", "index", redirect_to_support)
