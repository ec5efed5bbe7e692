"""Column types and value rules every package's models share.

Every datetime is timezone-aware UTC on SQLite and PostgreSQL alike (``UTCDateTime``);
an email is stored and compared in one form (``normalise_email``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC and UTC is attached again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use membership.clock.now() or tz-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_email(email: str) -> str:
    """The one form an email is stored and compared in: trimmed and lower-cased."""
    return email.strip().lower()


def new_public_id() -> str:
    return uuid.uuid4().hex


_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def is_public_id(value: str | None) -> bool:
    """Whether ``value`` has the shape of an id ``new_public_id`` makes (a checkout
    attempt's): anything else, from a URL or Stripe metadata, is never looked up."""
    return value is not None and _PUBLIC_ID.fullmatch(value) is not None
