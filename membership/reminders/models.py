"""The reminders readers ask for ("remind me later"), and their lifecycle.

A reminder keeps the least it can: the email (erased after the retention period,
leaving the row for counts), when it is due, what the reader was considering,
where they were, and a random token for the links in the email.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.extensions import db
from membership.models import UTCDateTime
from membership.vocabulary import Frequency, ReminderStatus, sql_in

# scheduled -> sending -> sent; or failed (attempts exhausted), cancelled, converted.
REMINDER_STATUSES: tuple[str, ...] = tuple(ReminderStatus)
ACTIVE_STATUSES = (ReminderStatus.SCHEDULED, ReminderStatus.SENDING)
# What staff counts keep after retention: everything except the email.
FINISHED_STATUSES = (
    ReminderStatus.SENT,
    ReminderStatus.CANCELLED,
    ReminderStatus.CONVERTED,
    ReminderStatus.FAILED,
)


def status_in_sql(statuses: tuple[str, ...]) -> str:
    """``status IN ('a', 'b')`` (of a reminder), the statuses written out: a database uses a
    partial index for a query only when the query names its statuses as the index does,
    not as parameters, which a plan prepared once must serve whatever their values (and
    SQLite, which keeps no statistics, may prefer the index on status to the one on email
    unless the query names the unique one's condition)."""
    unknown = set(statuses) - set(REMINDER_STATUSES)
    if unknown:  # only our own constants are ever written into SQL
        raise ValueError(f"not a reminder status: {sorted(unknown)}")
    return "status IN ({})".format(", ".join(f"'{status}'" for status in statuses))


class Reminder(db.Model):  # type: ignore[name-defined]
    """One "remind me later" request: one email on the day asked, unless the reader gave."""

    __tablename__ = "reminders"
    __table_args__ = (
        CheckConstraint(
            sql_in("status", ReminderStatus),
            name="status_known",
        ),
        CheckConstraint(
            sql_in("frequency", Frequency, nullable=True),
            name="frequency_known",
        ),
        # One active reminder per email: asking again reschedules it (a constraint, not a check
        # in Python, so two concurrent sign-ups cannot both insert).
        Index(
            "uq_reminders_active_email",
            "email",
            unique=True,
            sqlite_where=text(status_in_sql(ACTIVE_STATUSES)),
            postgresql_where=text(status_in_sql(ACTIVE_STATUSES)),
        ),
        # The sender's claim query: due rows by status and time.
        Index("ix_reminders_status_due_at", "status", "due_at"),
        # A supporter's reminders, on their page (any status).
        Index("ix_reminders_email", "email"),
        # The reports count reminders asked for, sent and converted in a period.
        Index("ix_reminders_created_at", "created_at"),
        Index(
            "ix_reminders_sent_at",
            "sent_at",
            sqlite_where=text("sent_at IS NOT NULL"),
            postgresql_where=text("sent_at IS NOT NULL"),
        ),
        Index(
            "ix_reminders_converted_at",
            "converted_at",
            sqlite_where=text("converted_at IS NOT NULL"),
            postgresql_where=text("converted_at IS NOT NULL"),
        ),
        # Retention: the reminders whose email is still kept, by status and age.
        Index(
            "ix_reminders_erasable",
            "status",
            "updated_at",
            sqlite_where=text("email IS NOT NULL"),
            postgresql_where=text("email IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # Normalised (membership.models.normalise_email); NULL once erased by retention.
    email: Mapped[str | None] = mapped_column(String(254))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # What the reader was considering, to prefill /support from the email's link.
    frequency: Mapped[str | None] = mapped_column(String(10))
    amount_minor: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[str | None] = mapped_column(String(500))
    # The language the reader asked in (membership.i18n): the email is written in it.
    # NULL for reminders asked before languages were kept: the default language.
    language: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
