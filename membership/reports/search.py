"""Staff search of supporters by part of an email, and the index that serves it.

"Contains" cannot use an ordinary index. On PostgreSQL a GIN index of the emails'
trigrams (``pg_trgm``, migration 0017) answers ``email LIKE '%part%'`` from the index
for any part of ``MIN_LENGTH`` characters or more: a few milliseconds at 2,000,000
supporters, where a scan takes half a second. Shorter parts are refused (a trigram
index cannot narrow them, and one or two characters find half the supporters anyway).
Where the extension cannot be installed the migration creates nothing and the same
query scans: correct, slower (``docs/scale.md``). SQLite scans; at a million payments
that stays within the pages' budget.

A whole address (``someone@example.org``) is looked up exactly, through the unique index
on emails: it names one person, and its domain shares its trigrams with every other
address there (a third of all at some providers), which the trigram index would read.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Index, String, bindparam

from membership.models import Supporter, normalise_email

MIN_LENGTH = 3
EMAIL_TRIGRAMS = "ix_supporters_email_trigrams"


class SearchTooShort(ValueError):
    """A part of an email too short to search for; the message says so."""


_WHOLE_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def is_whole_address(text: str) -> bool:
    """``text`` names one address (looked up exactly), not a part of many."""
    return _WHOLE_ADDRESS.fullmatch(text) is not None


def email_matches(text: str) -> ColumnElement[bool]:
    """The condition staff search with: "the email is ``text``" for a whole address,
    else "contains ``text``" (``text`` already lower-cased and trimmed)."""
    if is_whole_address(text):
        return Supporter.email == normalise_email(text)
    return email_contains(text)


def email_contains(text: str, email: Any = Supporter.email) -> ColumnElement[bool]:
    """The condition "the email contains ``text``" (already lower-cased and trimmed):
    ``LIKE`` with the wildcards in ``text`` escaped, as the trigram index reads it.

    The pattern is sent written into the statement, not as a parameter: a statement
    prepared for any pattern (psycopg prepares one used five times, and PostgreSQL may
    then plan it once for all) is planned for an average match, which reads the newest
    supporters one by one, and for a part that matches no one, all two million of them."""
    if len(text) < MIN_LENGTH:
        raise SearchTooShort(f"Type at least {MIN_LENGTH} characters of the email to search.")
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = bindparam(None, f"%{escaped}%", type_=String, literal_execute=True)
    return email.like(pattern, escape="\\")


def declare_email_trigrams(database_url: str) -> None:
    """Tell the models about the trigram index on PostgreSQL, where migration 0017 makes
    it, so that the schema and the models agree (SQLite has no such index)."""
    table = Supporter.__table__
    if not database_url.startswith("postgresql") or any(
        index.name == EMAIL_TRIGRAMS for index in table.indexes
    ):
        return
    Index(
        EMAIL_TRIGRAMS,
        table.c.email,
        postgresql_using="gin",
        postgresql_ops={"email": "gin_trgm_ops"},
    )
