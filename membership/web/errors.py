"""Calm pages for every error: never a stack trace, always a way back."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from membership.extensions import db
from membership.web.log_privacy import private_path

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """The error pages: a form's lost CSRF token, undecodable input, HTTP errors, and the
    unexpected, which is logged (its path without query or token) and rolled back."""

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
        log.exception("unhandled error on %s %s", request.method, private_path(request.path))
        db.session.rollback()
        return render_template("errors/http.html", error=None, code=500), 500
