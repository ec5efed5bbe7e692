"""The HTTP guards every request passes, whatever part of the app it is for.

Sessions signed once per app, two cookies (readers', staff's) (``sessions``); security
headers (``security_headers``); input refused before a view runs (``request_guard``);
request logs without personal data, and the app's records on stderr (``log_privacy``);
rate-limit keys that never hold an address or an email (``rate_limits``); numbers as
ASCII digits only (``digits``); calm error pages (``errors``); and the extensions'
per-request hooks kept to the blueprints that need them (``extension_hooks``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from membership.config import Settings
from membership.web import errors, extension_hooks, log_privacy, request_guard, security_headers

# Blueprints whose views are rate limited or signed in by Flask-Login.
LIMITED_OR_SIGNED_IN = ("reminders", "staff", "reports")


def init_app(app: Flask, settings: Settings) -> None:
    """Guard every request; after the parts, so their hooks exist to be scoped."""
    log_privacy.install()
    log_privacy.configure_logging()
    if settings.trusted_proxy_hops:
        # The client's address (audit log, sign-in rate limit) from X-Forwarded-For, set
        # by exactly that many proxies of ours; never trusted from a direct request.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    extension_hooks.keep_to(app, LIMITED_OR_SIGNED_IN)
    extension_hooks.check_csrf_on_unsafe_methods_only(app)
    security_headers.init_app(app, production=settings.env == "production")
    request_guard.init_app(app)
    errors.init_app(app)
