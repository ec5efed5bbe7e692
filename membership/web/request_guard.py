"""No character a database cannot store gets in: NUL in a path, a query, a form field or
a JSON string, or a lone surrogate (``"\ud800"``) in a JSON string.

No reader or staff member types one; PostgreSQL cannot store NUL in text, and neither
database can store a lone surrogate. Let through, they failed deep inside a request with
a 500, once after a Stripe Checkout Session had been opened for a gift whose attempt
could then not be stored. A request carrying one is refused at once with 400, before
any view. (Form fields cannot carry a lone surrogate: undecodable bytes are replaced.)
Stripe's webhook is left to its own checks: its body is signed and read raw.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, abort, jsonify, request

from membership.i18n import lazy_gettext

REFUSAL = lazy_gettext(
    "The request contains a NUL character or an invalid one, which no field accepts."
)
TOO_DEEP = lazy_gettext("The JSON is nested deeper than any request of ours.")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_unstorable_characters() -> Response | None:
        problem = _problem()
        if problem is None:
            return None
        if request.is_json:
            response = jsonify(error=problem)
            response.status_code = 400
            return response
        abort(400, problem)


def _problem() -> str | None:
    """Why the request is refused, or None. Cheap checks first: the path and the raw
    query, read from the WSGI environment as the server gave them (the path decoded, the
    query not), cost nothing to look at."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    in_address = "\x00" in environ.get("PATH_INFO", "") or "%00" in query or "\x00" in query
    posted = environ.get("REQUEST_METHOD") == "POST"
    if not (in_address or posted) or request.blueprint == "webhooks":
        return None  # nothing to refuse; Stripe's webhook is left to its own checks
    if in_address:
        return REFUSAL
    if request.mimetype in _FORM_TYPES:
        if any("\x00" in key or "\x00" in value for key, value in request.form.items(True)):
            return REFUSAL
    elif request.is_json:
        try:
            document = request.get_json(silent=True)
        except RecursionError:  # deeper than Python's JSON parser goes
            return TOO_DEEP
        if any(not _storable(text) for text in _strings_in(document)):
            return REFUSAL
    return None


def _strings_in(document: Any) -> Iterator[str]:
    """Every string of a parsed JSON document, keys included; a loop, not a recursion,
    so that a document nested a thousand deep is read like any other."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True
