"""The article footer, embeddable in any article page: by one script tag
(``/embed/footer.js``) or by one iframe (``/embed/footer``), whose Continue goes straight
to Stripe Checkout (``POST /embed/checkout``). docs/embed.md has the snippets."""

from flask import Flask


def init_app(app: Flask) -> None:
    """The footer's script, its parts, its framable page and its Continue."""
    from membership.embed.views import blueprint

    app.register_blueprint(blueprint)
