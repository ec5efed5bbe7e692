"""The table behind ``flask stripe sync``'s resuming (``membership.webhooks.sync``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.columns import UTCDateTime
from membership.extensions import db


class SyncCursor(db.Model):  # type: ignore[name-defined]
    """Where an interrupted ``flask stripe sync --since`` resumes: after ``starting_after``,
    ``listed`` events into the listing of events created from ``created_since``."""

    __tablename__ = "stripe_sync_cursors"

    created_since: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    starting_after: Mapped[str] = mapped_column(String(255))
    listed: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
