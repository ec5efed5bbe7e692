"""Newsletter subscribers: the address, how they agreed, and the one email that asks them.

What a row keeps about a reader is what the issue lists and nothing more: the email, the
language, the page they signed up on, when they confirmed, and the consent record (the
wording shown, the privacy policy's address then, the time). The rest is the machinery of
one confirmation email (its sending state) and two tokens, kept only as SHA-256 hashes.
A pending row is deleted 7 days after sign-up; an unsubscribed one keeps only its dates,
language and page, for the counts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from membership.columns import UTCDateTime
from membership.extensions import db
from membership.vocabulary import ConfirmationMailStatus, NewsletterStatus, sql_in


class Subscriber(db.Model):  # type: ignore[name-defined]
    """One newsletter sign-up, from the form to its confirmation and its end."""

    __tablename__ = "newsletter_subscribers"
    __table_args__ = (
        CheckConstraint(sql_in("status", NewsletterStatus), name="status_known"),
        CheckConstraint(sql_in("mail_status", ConfirmationMailStatus), name="mail_status_known"),
        # The sender's claim: queued or stale confirmation emails.
        Index("ix_newsletter_subscribers_mail_due", "mail_status", "next_attempt_at"),
        # Erasing pending sign-ups past 7 days; counting by status.
        Index("ix_newsletter_subscribers_status_signed_up", "status", "consented_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Normalised (membership.columns.normalise_email); NULL once unsubscribed. Unique: one
    # row per address (NULLs do not collide), so a second sign-up cannot insert another.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    language: Mapped[str] = mapped_column(String(35))
    source: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default=NewsletterStatus.PENDING)
    # The consent record: the wording shown, the privacy policy in force, when. The first
    # two are erased with the address at unsubscribe; the time stays (it dates the sign-up).
    consent_wording: Mapped[str | None] = mapped_column(Text)
    consent_privacy_url: Mapped[str | None] = mapped_column(String(500))
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # SHA-256 of the links' tokens (made when the email is sent); the tokens themselves are
    # only ever in the email. The confirm hash is cleared when used.
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    unsubscribe_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The confirmation email, sent exactly once and retried as reminders are.
    mail_status: Mapped[str] = mapped_column(String(20), default=ConfirmationMailStatus.QUEUED)
    mail_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))

    def __repr__(self) -> str:  # never the email: reprs end up in logs and tracebacks
        return f"<Subscriber {self.id} {self.status}>"
