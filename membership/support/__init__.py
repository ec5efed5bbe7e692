"""Reader-facing giving: the support page, Stripe Checkout, thank-you and cancel pages."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The support pages, with ``/`` leading to them, and the ``gift_amount`` filter."""
    from membership.support.service import whole_or_exact
    from membership.support.views import blueprint, redirect_to_support

    app.register_blueprint(blueprint)
    # An amount as a gift is said: "$5", "$5.50", never "$5.00" (pages and emails).
    app.jinja_env.filters["gift_amount"] = whole_or_exact
    app.add_url_rule("/", "index", redirect_to_support)
