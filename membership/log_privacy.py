"""Keep supporters' personal data out of the logs the app writes.

Query strings can carry personal data (a staff search for an email, a ``next=`` link
back to it), so request lines in the development server's access log lose theirs.
Database errors are already logged without their parameters (``hide_parameters``).
"""

from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"(/[^\s?]*)\?\S*")
REDACTED = "?[query removed]"


class DropQueryStrings(logging.Filter):
    """Rewrite ``GET /path?query HTTP/1.1`` in a log record to ``GET /path?[query removed] …``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _QUERY.sub(rf"\1{REDACTED}", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _QUERY.sub(rf"\1{REDACTED}", record.msg)
        return True


def install() -> None:
    """Filter the request log of werkzeug's server (``flask run``, ``make run``); once."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())
