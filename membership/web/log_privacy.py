"""Keep supporters' personal data out of the logs the app writes.

Query strings can carry personal data (a staff search for an email, a ``next=`` link
back to it), so request lines in the development server's access log lose theirs, and the
links that carry a token (a reminder's cancel link, an account's sign-in link, a
newsletter's confirm and unsubscribe links) lose it: whoever has it can use it.
Database errors are already logged without their parameters (``hide_parameters``).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from http.server import BaseHTTPRequestHandler

from werkzeug.serving import WSGIRequestHandler

_QUERY = re.compile(r"(/[^\s?]*)\?\S*")
REDACTED = "?[query removed]"
# Paths that carry a secret: whoever has the token of a reminder's cancel link, a sign-in
# link or a newsletter's confirm or unsubscribe link can use it.
_TOKEN_PATH = re.compile(
    r"(/remind-me/cancel/|/account/sign-in/|/newsletter/confirm/|/newsletter/unsubscribe/)"
    r"[^\s/?]+"
)
_TOKEN_HINTS = ("/cancel/", "/sign-in/", "/newsletter/")
_CANCEL_LINK_REDACTED = r"\1[token removed]"


def private_path(path: str) -> str:
    """A request path fit for a log line: without its query string or a link's token."""
    return _TOKEN_PATH.sub(_CANCEL_LINK_REDACTED, _QUERY.sub(rf"\1{REDACTED}", path))


class DropQueryStrings(logging.Filter):
    """Rewrite ``GET /path?query HTTP/1.1`` in a log record to ``GET /path?[query removed] …``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                private_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str) and (
            "?" in record.msg or any(hint in record.msg for hint in _TOKEN_HINTS)
        ):
            record.msg = private_path(record.msg)
        return True


def install() -> None:
    """Filter the request log of werkzeug's server (``flask run``, ``make run``), and keep
    that server from announcing its and Python's versions in every answer; once."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
    WSGIRequestHandler.version_string = _no_versions  # type: ignore[method-assign,assignment]


def _no_versions(handler: BaseHTTPRequestHandler) -> str:
    return "membership"


# What an operator reads on stderr under gunicorn, cron and the CLI: one line per record,
# UTC to the second, the logger that says it (``membership.webhooks.service``).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StderrHandler(logging.StreamHandler):
    """The app's own handler, so that configuring twice (several apps) adds it once."""


def configure_logging(level: int = logging.INFO) -> None:
    """Send the app's log records (``membership.*``, INFO and up) to stderr in
    ``LOG_FORMAT``, with query strings and cancel tokens removed; unless logging is
    configured already (``gunicorn --log-config``, a test runner), which then decides."""
    logger = logging.getLogger("membership")
    if logging.getLogger().handlers or any(isinstance(h, _StderrHandler) for h in logger.handlers):
        return
    handler = _StderrHandler(sys.stderr)
    formatter = logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(DropQueryStrings())
    logger.addHandler(handler)
    logger.setLevel(level)
