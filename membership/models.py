"""Typed SQLAlchemy 2 models: who supports us and how they tried to give.

Money columns are integer minor units beside an ISO currency code. Every
datetime is timezone-aware UTC on SQLite and PostgreSQL alike (``UTCDateTime``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Dialect, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from membership import clock
from membership.extensions import db


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


class Supporter(db.Model):  # type: ignore[name-defined]
    """A person who has given. Holds as little as we need to recognise them again."""

    __tablename__ = "supporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    checkout_attempts: Mapped[list[CheckoutAttempt]] = relationship(back_populates="supporter")

    def __init__(self, **kwargs: Any) -> None:
        if "email" in kwargs:
            kwargs["email"] = normalise_email(kwargs["email"])
        super().__init__(**kwargs)


class CheckoutAttempt(db.Model):  # type: ignore[name-defined]
    """One press of Continue that reached Stripe Checkout, with where the reader came from.

    The reader's email is deliberately not kept here: Stripe collects it, and the
    webhook ledger records it only once money has actually moved.
    """

    __tablename__ = "checkout_attempts"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("frequency IN ('once', 'monthly', 'annual')", name="frequency_known"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    frequency: Mapped[str] = mapped_column(String(10))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str | None] = mapped_column(String(500))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    stripe_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)

    supporter: Mapped[Supporter | None] = relationship(back_populates="checkout_attempts")
