"""The newsletter: sign-up with recorded consent, double opt-in, unsubscribe, export."""

from flask import Flask

# Every table is registered when the app's package is imported (``membership.models``
# lists the others; Alembic compares them all).
from membership.newsletter import models  # noqa: F401


def init_app(app: Flask) -> None:
    """Settings (read once, checked at start-up), pages, ``flask newsletter``."""
    from membership.newsletter import settings
    from membership.newsletter.cli import newsletter_cli
    from membership.newsletter.views import blueprint

    app.extensions[settings.EXTENSION] = settings.load(app)
    app.register_blueprint(blueprint)
    app.cli.add_command(newsletter_cli)
