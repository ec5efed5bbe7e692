"""Where a reader came from, kept as the page and no more.

The support widget posts the article's address (``location.href``), and newsletters add
query strings that name the reader (``?email=...``, mailing-list ids) or their session;
fragments are the reader's own. What is kept, in checkout attempts, reminders, payments,
Stripe's metadata, reports and exports, is the page: scheme, host and path.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# The columns' sizes. Attribution rides in hidden fields the reader cannot see or fix,
# from links we do not write: too long, it is cut, never refused (refusing it would
# refuse the gift, again on every try).
SOURCE_MAX = 500
TAG_MAX = 200


def source_of(source: str | None) -> str | None:
    """The page, as ``page_of`` gives it, cut to what is kept."""
    page = page_of(source)
    return page[:SOURCE_MAX] if page else None


def tag_of(value: str | None) -> str | None:
    """A UTM tag, trimmed and cut to what is kept; None when empty."""
    tag = (value or "").strip()[:TAG_MAX].strip()
    return tag or None


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
