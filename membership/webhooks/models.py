"""Stripe's events as received: each stored once, by Stripe's id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.columns import UTCDateTime
from membership.extensions import db


class StripeEvent(db.Model):  # type: ignore[name-defined]
    """Every Stripe event received, stored once under Stripe's id, with how processing went."""

    __tablename__ = "stripe_events"
    # Only failed events are ever looked for by status (``flask stripe events --failed``):
    # indexing those alone spares every processed event an index write.
    __table_args__ = (
        Index(
            "ix_stripe_events_failed",
            "created",
            sqlite_where=text("status = 'failed'"),
            postgresql_where=text("status = 'failed'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime] = mapped_column(UTCDateTime())
    livemode: Mapped[bool] = mapped_column(Boolean)
    api_version: Mapped[str | None] = mapped_column(String(50))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # processed | failed | ignored (livemode mismatch)
    status: Mapped[str] = mapped_column(String(20), default="failed")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
