"""The membership app: ``create_app()`` lists the parts of the app and wires them.

The list of ``init_app`` calls below is the app's table of contents: each part registers
its own pages, commands and receivers of the ledger's facts (``membership.ledger.hooks``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from membership import (  # noqa: F401  (database: engine settings; models: every table)
    account,
    database,
    demo,
    embed,
    i18n,
    identity,
    models,
    money,
    newsletter,
    notices,
    reminders,
    reports,
    staff,
    support,
    web,
    webhooks,
)
from membership.config import flask_settings, load_settings
from membership.extensions import csrf, db, limiter, migrate
from membership.web import sessions
from membership.web.flask_app import MembershipFlask

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def create_app(environ: Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    """Build the app from environment variables (or ``environ``), then Flask ``overrides``."""
    app = MembershipFlask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    settings = load_settings(environ, instance_path=app.instance_path)
    app.extensions["membership.settings"] = settings
    app.config.update(flask_settings(settings), **overrides)
    if not settings.stripe_enabled:
        log.warning("STRIPE_SECRET_KEY is not set: Continue shows how to set Stripe test keys")

    sessions.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, settings)  # readers' languages: lang, Accept-Language, catalogues

    # The parts of the app, each wiring its own pages, commands and receivers.
    identity.init_app(app)  # the newsroom's name, logo, appeal: in every page and email
    support.init_app(app)  # readers give: /support, Stripe Checkout, thank-you
    webhooks.init_app(app)  # Stripe's signed events, stored once, into the ledger
    reminders.init_app(app)  # remind me later; a gift suppresses or converts one
    newsletter.init_app(app)  # newsletter sign-up, double opt-in, unsubscribe, export
    embed.init_app(app)  # the article footer: one script or one iframe, Continue to Checkout
    account.init_app(app)  # supporters sign in by emailed link: their gifts, data, changes
    notices.init_app(app)  # the emails supporters expect: receipts, failed payments, ...
    staff.init_app(app)  # staff sign-in, accounts, two-step, the audit log
    reports.init_app(app)  # dashboard, reports, exports; rollups kept as the ledger writes
    demo.init_app(app)  # flask demo seed

    web.init_app(app, settings)  # the guards every request passes, and the error pages
    app.jinja_env.filters["money"] = money.format_money
    return app
