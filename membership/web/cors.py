"""CORS for the routes an article page's widget calls from another origin."""

from __future__ import annotations

from collections.abc import Collection

from flask import Response, request

from membership.config import current_settings


def allow_article_origins(
    response: Response, paths: Collection[str], *, credentials: bool = False
) -> Response:
    """Let the configured article origins (``CORS_ALLOWED_ORIGINS``) read the answers of
    these routes, and nobody else; ``credentials`` when the widget's cookie must travel."""
    if request.url_rule is None or request.url_rule.rule not in paths:
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if is_article_origin(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        if credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    return response


def is_article_origin(origin: str) -> bool:
    """True when ``origin`` (as a browser sends it in ``Origin``) is one of the configured
    article origins (``CORS_ALLOWED_ORIGINS``)."""
    return origin.rstrip("/").lower() in current_settings().reminders.cors_allowed_origins
