"""Where a reader came from, kept as the page and no more.

The support widget posts the article's address (``location.href``), and newsletters add
query strings that name the reader (``?email=...``, mailing-list ids) or their session;
fragments are the reader's own. What is kept, in checkout attempts, reminders, payments,
Stripe's metadata, reports and exports, is the page: scheme, host and path.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def page_of(source: str | None) -> str | None:
    """``source`` without its query and fragment, and for a web address without any user
    name or password; trimmed; None when nothing is left."""
    page = (source or "").strip().split("#", 1)[0].split("?", 1)[0]
    if not page:
        return None
    try:
        parts = urlsplit(page)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return page
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
        host += f":{parts.port}" if parts.port else ""
    except ValueError:  # an address we cannot read (a bad port, an unbalanced "["): as cut
        return page
    return urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))
