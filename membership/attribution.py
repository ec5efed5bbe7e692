"""Where a reader came from, kept as the page and campaign tags, and nothing that names them.

The support widget posts the article's address (``location.href``), and newsletters add
query strings that name the reader (``?email=...``, mailing-list ids) or their session,
put the reader's address or id in ``utm_content``, or in the path itself
(``/u/3f9a.../welcome``); fragments are the reader's own. What is kept, in checkout
attempts, reminders, payments, Stripe's metadata, reports and exports, is the page
(scheme, host and the path's segments that identify no one) and UTM values that look
like campaign tags: short slugs of letters, digits and ``-_.`` that are not ids.

Attribution rides in hidden fields the reader cannot see or fix, from links we do not
write: a value we would not keep is dropped or cut, never refused (refusing it would
refuse the gift, again on every try).
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

# The source column's size.
SOURCE_MAX = 500
# A campaign tag is a short slug; anything longer is more likely an id or a person's data.
TAG_MAX = 64
_SLUG = re.compile(r"[A-Za-z0-9._-]+")
# What an identifier looks like, anywhere in a tag or path segment: an email address,
# a UUID, a long run of hex (hashes, mailing-list ids), a long number (subscriber ids,
# phone numbers), a long run that mixes letters and digits (tokens).
_IDENTIFIER = re.compile(
    r"@"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*[0-9])[0-9a-f]{16,}"
    r"|[0-9]{9,}"
    r"|(?=[A-Za-z0-9+/=]*[0-9])(?=[A-Za-z0-9+/=]*[A-Za-z])[A-Za-z0-9+/=]{20,}",
    re.IGNORECASE,
)
# Upper case, lower case and digits in one run of 12 or more: base64 (case matters here).
_MIXED_CASE_TOKEN = re.compile(
    r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{12,}"
)


def looks_like_identifier(value: str) -> bool:
    """Whether ``value`` holds something that names a person or a session (percent-escapes
    read first, so ``%40`` is an ``@``)."""
    text = unquote(value)
    return bool(_IDENTIFIER.search(text) or _MIXED_CASE_TOKEN.search(text))


def source_of(source: str | None) -> str | None:
    """The page, as ``page_of`` gives it, cut to what is kept."""
    page = page_of(source)
    return page[:SOURCE_MAX] if page else None


def tag_of(value: str | None) -> str | None:
    """A UTM value if it looks like a campaign tag (a short slug, not an id); else None."""
    tag = (value or "").strip()
    if len(tag) > TAG_MAX or not _SLUG.fullmatch(tag) or looks_like_identifier(tag):
        return None
    return tag


def page_of(source: str | None) -> str | None:
    """``source`` without its query and fragment, without the path segments that look like
    identifiers (``without_identifiers``), and for a web address without any user name or
    password; trimmed; None when nothing is left."""
    page = (source or "").strip().split("#", 1)[0].split("?", 1)[0]
    if not page:
        return None
    try:
        parts = urlsplit(page)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return without_identifiers(page) or None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # IPv6
        host += f":{parts.port}" if parts.port else ""
    except ValueError:  # an address we cannot read (a bad port, an unbalanced "["): as cut
        return without_identifiers(page) or None
    path = without_identifiers(parts.path)
    return urlunsplit((parts.scheme.lower(), host, path, "", ""))


def without_identifiers(path: str) -> str:
    """``path`` without the segments (between slashes) that look like identifiers."""
    return "/".join(segment for segment in path.split("/") if not looks_like_identifier(segment))
