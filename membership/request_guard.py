"""No NUL character gets in: in a path, a query, a form field or a JSON string.

No reader or staff member types one, and PostgreSQL cannot store one in text: let
through, it failed deep inside a request with a 500, after a Stripe Checkout Session
had been opened for a gift whose attempt could then not be stored. A request carrying
one is refused at once with 400, before any view. Stripe's webhook is left to its own
checks: its body is signed and read raw.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, jsonify, request

REFUSAL = "The request contains a NUL character, which no field accepts."
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_characters() -> Response | None:
        if request.blueprint == "webhooks" or not _carries_nul():
            return None
        if request.is_json:
            response = jsonify(error=REFUSAL)
            response.status_code = 400
            return response
        abort(400, REFUSAL)


def _carries_nul() -> bool:
    """Cheap checks first: the path and the raw query cost nothing to look at."""
    if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
        return True
    if request.method != "POST":
        return False
    if request.mimetype in _FORM_TYPES:
        return any("\x00" in key or "\x00" in value for key, value in request.form.items(True))
    if request.is_json:
        return _has_nul(request.get_json(silent=True))
    return False


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False
