"""The newsroom's identity: its name, addresses, logo, accent colour and appeal.

Settings (``settings``, read by ``membership.config`` into ``Settings.identity``),
``publication`` in every template (pages and emails), the appeal and the "other ways to
give" text per language from ``instance/`` (``appeal``), the payment methods shown under
Continue (``publication.payment_methods``), and the logo served at ``/publication/logo.*``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from membership.identity.appeal import Appeal, appeal, other_ways
from membership.identity.publication import (
    PaymentMethod,
    Publication,
    current_identity,
    payment_methods,
    publication,
)

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
]


def init_app(app: Flask) -> None:
    """``publication``, ``appeal`` and ``payment_methods`` in every template; the logo."""
    from membership.identity.views import blueprint

    app.register_blueprint(blueprint)

    @app.context_processor
    def inject_publication() -> dict[str, Any]:
        return {"publication": publication()}

    app.jinja_env.globals.update(appeal=appeal, payment_methods=payment_methods)
    # Until the catalogues are wired (membership.i18n), "_" shows the English source:
    # templates wrap their strings for translation either way.
    app.jinja_env.globals.setdefault("_", _untranslated)
    app.jinja_env.globals.setdefault("gettext", _untranslated)


def _untranslated(text: str, **variables: Any) -> str:
    return text % variables if variables else text
