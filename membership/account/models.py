"""The account's tables: sign-in links, and changes a supporter asked Stripe for.

A sign-in link keeps the least it can: whose it is, the SHA-256 of its token, and its
times. Until its email is sent it also keeps a random nonce from which the token is
derived under ``SECRET_KEY`` (so a copy of the database alone opens nothing); the nonce
is cleared once the email is sent or given up. Rows are deleted a day after they were
made (``service.forget_old_links``): by then the link and any session it began are over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.columns import UTCDateTime, new_public_id
from membership.extensions import db
from membership.vocabulary import sql_in

# queued -> sending -> sent; or failed (refused for good, or expired before it went out).
LINK_STATUSES = ("queued", "sending", "sent", "failed")
# What a supporter may ask Stripe to do to one recurring gift from their page.
CHANGE_KINDS = ("amount", "switch", "pause", "resume", "cancel")


class SignInLink(db.Model):  # type: ignore[name-defined]
    """One emailed sign-in link: single-use, valid for ``service.LINK_LIFETIME``."""

    __tablename__ = "account_sign_in_links"
    __table_args__ = (
        CheckConstraint(sql_in("status", LINK_STATUSES), name="status_known"),
        # The sender's claim: queued rows by status and time.
        Index("ix_account_sign_in_links_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The session this link began ends here (sign-out), whatever its cookie says.
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupportChange(db.Model):  # type: ignore[name-defined]
    """A change a supporter asked Stripe to make to a recurring gift, until Stripe's
    webhook says it happened: the page shows "being updated" meanwhile. The ledger itself
    changes only from the webhook. Its public id is the Stripe idempotency key."""

    __tablename__ = "account_support_changes"
    __table_args__ = (
        CheckConstraint(sql_in("kind", CHANGE_KINDS), name="kind_known"),
        CheckConstraint("amount_minor IS NULL OR amount_minor > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    recurring_support_id: Mapped[int] = mapped_column(
        ForeignKey("recurring_supports.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    # The new amount (amount, switch), the frequency switched to, when a pause ends.
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    frequency: Mapped[str | None] = mapped_column(String(10))
    resumes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
