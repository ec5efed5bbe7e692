"""The newsroom's identity: its name, addresses, logo, accent colour and appeal.

Settings (``settings``, read by ``membership.config`` into ``Settings.identity``),
``publication`` in every template (pages and emails), the appeal and the "other ways to
give" text per language from ``instance/`` (``appeal``), the payment methods shown under
Continue (``publication.payment_methods``), and the logo served at ``/publication/logo.*``.
"""

from __future__ import annotations

import logging

from flask import Flask

from membership.identity.appeal import Appeal, appeal, other_ways
from membership.identity.publication import (
    PaymentMethod,
    Publication,
    current_identity,
    payment_methods,
    publication,
    publication_of,
)
from membership.identity.settings import DEFAULT_NAME

__all__ = [
    "Appeal",
    "PaymentMethod",
    "Publication",
    "appeal",
    "current_identity",
    "init_app",
    "other_ways",
    "payment_methods",
    "publication",
    "publication_of",
]


log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """``publication``, ``appeal()`` and ``payment_methods()`` for every template; the logo
    and the accent colour's style sheet."""
    from membership.identity.views import blueprint, favicon

    app.register_blueprint(blueprint)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    # A global, not a context processor: senders render emails straight from Jinja
    # (``jinja_env.get_template(...).render``), which only globals reach. It is fixed
    # for the app's life, as the settings are.
    settings = app.extensions["membership.settings"]
    if settings.env == "production" and settings.identity.publication_name == DEFAULT_NAME:
        log.warning("PUBLICATION_NAME is not set: pages and emails are signed %r", DEFAULT_NAME)
    app.jinja_env.globals.update(
        publication=publication_of(settings),
        appeal=appeal,
        payment_methods=payment_methods,
    )
