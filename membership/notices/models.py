"""The supporter notices' outbox: one row per email a supporter is owed, keyed so that
each is owed once.

A row holds no address and no contents: whom it goes to and what it says are read when
it is sent, from the ledger row it is about (a payment, a failed attempt, a recurring
gift, a change asked of Stripe). So a supporter's newer address is used, an erased one
never, and a sent notice keeps only its kind and dates, which staff see.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.columns import UTCDateTime
from membership.extensions import db
from membership.vocabulary import sql_in


class NoticeKind(StrEnum):
    """What a supporter is told, and why they expect it."""

    RECEIPT = "receipt"  # thanks and receipt, after each payment
    PAYMENT_FAILED = "payment_failed"  # a renewal's attempt failed: update the card
    RENEWAL_AHEAD = "renewal_ahead"  # an annual gift is charged in a week
    CHANGE_CONFIRMED = "change_confirmed"  # what they asked from their account page

    @property
    def label(self) -> str:
        """What staff see."""
        return _LABELS[self]


_LABELS = {
    NoticeKind.RECEIPT: "Thanks and receipt",
    NoticeKind.PAYMENT_FAILED: "Payment failed",
    NoticeKind.RENEWAL_AHEAD: "Annual renewal ahead",
    NoticeKind.CHANGE_CONFIRMED: "Change confirmed",
}


class NoticeStatus(StrEnum):
    """queued -> sending -> sent; or failed (refused for good), or dropped (no longer owed:
    the invoice was paid, the gift changed, the address was erased)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"


# Still to be sent, or being sent: what the sender's claim looks at.
OPEN_STATUSES = (NoticeStatus.QUEUED, NoticeStatus.SENDING)


class Notice(db.Model):  # type: ignore[name-defined]
    """One email owed to a supporter. ``key`` makes it owed once: ``receipt:<payment>``,
    ``payment_failed:<invoice>:<attempt>``, ``renewal_ahead:<gift>:<period end>``,
    ``change_confirmed:<change>``; a replayed event inserts nothing."""

    __tablename__ = "supporter_notices"
    __table_args__ = (
        CheckConstraint(sql_in("kind", NoticeKind), name="kind_known"),
        CheckConstraint(sql_in("status", NoticeStatus), name="status_known"),
        # The sender's claim reads only the open ones.
        Index(
            "ix_supporter_notices_open",
            "status",
            "id",
            sqlite_where=text("status IN ('queued', 'sending')"),
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
        # The renewal scan skips the periods already announced (the other kinds' rows are
        # not in it: the webhook path's inserts never write it).
        Index(
            "ix_supporter_notices_renewals",
            "recurring_support_id",
            "renews_at",
            sqlite_where=text("kind = 'renewal_ahead'"),
            postgresql_where=text("kind = 'renewal_ahead'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(300), unique=True)
    # Whom it is for: the supporter of the row it is about, read again when it is sent
    # (two supporters found to be one are merged, and the one merged away is deleted).
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    # What it is about. Payments, failures and recurring gifts are never deleted (erasure
    # keeps the money, nobody's), so these need no index: each one less is one write less
    # on the webhook path, where receipts and failures are owed.
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="SET NULL"))
    payment_failure_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_failures.id", ondelete="SET NULL")
    )
    recurring_support_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_supports.id", ondelete="SET NULL")
    )
    support_change_id: Mapped[str | None] = mapped_column(
        ForeignKey("account_support_changes.id", ondelete="SET NULL"), index=True
    )
    # An annual renewal's date: the end of the period the notice announces.
    renews_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default=NoticeStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
