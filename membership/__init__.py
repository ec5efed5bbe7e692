"""The membership app: ``create_app()`` wires config, extensions, blueprints and CLI."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from membership import (  # noqa: F401  (database: engine settings; models: every table)
    account,
    database,
    demo,
    log_privacy,
    models,
    money,
    newsletter,
    reminders,
    reports,
    request_guard,
    security_headers,
    sessions,
    staff,
    support,
    webhooks,
)
from membership.config import Settings, load_settings
from membership.extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

# Bodies bigger than this are refused with 413 before any view reads them. Form
# fields have their own, much smaller, limits and get a message per field.
MAX_REQUEST_BYTES = 2 * 1024 * 1024


def create_app(environ: Mapping[str, str] | None = None, **overrides: Any) -> Flask:
    """Build the app from environment variables (or ``environ``), then Flask ``overrides``."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    settings = load_settings(environ, instance_path=app.instance_path)
    _configure(app, settings)
    log_privacy.install()
    log_privacy.configure_logging()
    app.config.update(overrides)
    if settings.trusted_proxy_hops:
        # The client's address (audit log, sign-in rate limit) from X-Forwarded-For, set
        # by exactly that many proxies of ours; never trusted from a direct request.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    sessions.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)

    # The parts of the app, each wiring its own pages, commands and receivers.
    support.init_app(app)  # readers give: /support, Stripe Checkout, thank-you
    webhooks.init_app(app)  # Stripe's signed events, stored once, into the ledger
    reminders.init_app(app)  # remind me later; a gift suppresses or converts one
    staff.init_app(app)  # staff sign-in, accounts, two-step, the audit log
    reports.init_app(app)  # dashboard, reports, exports; rollups kept as the ledger writes
    newsletter.init_app(app)  # newsletter sign-up, double opt-in, unsubscribe, export
    demo.init_app(app)  # flask demo seed
    account.init_app(app)  # supporters sign in by emailed link: their gifts, data, changes

    _keep_extension_hooks_to(app, ("reminders", "staff", "reports"))
    security_headers.init_app(app, production=settings.env == "production")
    request_guard.init_app(app)
    _register_error_pages(app)
    app.jinja_env.filters["money"] = money.format_money
    return app


def _configure(app: Flask, settings: Settings) -> None:
    app.extensions["membership.settings"] = settings
    production = settings.env == "production"
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # hide_parameters: database errors then never carry emails or names into logs.
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "hide_parameters": True},
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PREFERRED_URL_SCHEME="https" if production else "http",
        TESTING=settings.env == "testing",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session cookie
        # Signed with the current key, accepted under any kept one, as sessions are
        # (itsdangerous signs with the last key of the list and checks with all).
        WTF_CSRF_SECRET_KEY=[*settings.secret_key_fallbacks, settings.secret_key],
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=production,
    )
    if not settings.stripe_enabled:
        log.warning("STRIPE_SECRET_KEY is not set: Continue shows how to set Stripe test keys")


# Blueprints whose views are rate limited or signed in: the only ones that need Flask-Limiter's
# and Flask-Login's per-request hooks.
def _keep_extension_hooks_to(app: Flask, blueprints: tuple[str, ...]) -> None:
    """Run Flask-Limiter's and Flask-Login's request hooks only for the blueprints that use
    them. Every limit is on a decorated view, which checks itself, and only staff pages sign
    in; app-wide, the hooks cost every other request (the support page, Stripe's webhooks)
    some 80 us for nothing.
    """
    app_hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in app_hooks:  # absent when RATELIMIT_ENABLED is off
        app_hooks.remove(limiter._check_request_limit)
    owned = (limiter, login_manager)
    for hooks in (app.after_request_funcs, app.teardown_request_funcs):
        theirs = [
            hook
            for hook in hooks[None]
            if getattr(hook, "__self__", None) in owned or owned[0] in getattr(hook, "args", ())
        ]
        hooks[None] = [hook for hook in hooks[None] if hook not in theirs]
        for blueprint in blueprints:
            hooks.setdefault(blueprint, []).extend(theirs)


def _register_error_pages(app: Flask) -> None:
    """Calm pages for every error: never a stack trace, always a way back."""

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        query = {k: request.form.get(k, "") for k in ("frequency", "currency", "amount")}
        return render_template("errors/csrf.html", query=query), 400

    @app.errorhandler(UnicodeDecodeError)
    def undecodable(error: UnicodeDecodeError) -> tuple[str, int]:
        return render_template("errors/http.html", error=None, code=400), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return render_template("errors/http.html", error=error, code=code), code

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        log.exception(
            "unhandled error on %s %s", request.method, log_privacy.private_path(request.path)
        )
        db.session.rollback()
        return render_template("errors/http.html", error=None, code=500), 500
