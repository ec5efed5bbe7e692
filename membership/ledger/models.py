"""The ledger's tables: supporters, checkout attempts, recurring support, payments, and
what is learnt about them from Stripe in any order.

Money columns are integer minor units beside an ISO currency code; times are aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    case,
    false,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from membership import clock
from membership.columns import UTCDateTime, new_public_id, normalise_email
from membership.extensions import db
from membership.vocabulary import DISPUTE_HOLDS_MONEY, RECURRING_FREQUENCIES, Frequency, sql_in


class Supporter(db.Model):  # type: ignore[name-defined]
    """A person who has given. Holds as little as we need to recognise them again."""

    __tablename__ = "supporters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # When Stripe stated the email we hold: a later statement (``customer.updated``, a
    # newer invoice) replaces it, an older one never does, whatever the delivery order.
    email_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())

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
        CheckConstraint(sql_in("frequency", Frequency), name="frequency_known"),
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
    # The language the reader gave in (membership.i18n): Checkout, the thank-you page and
    # the supporter's emails (receipts) speak it. NULL before languages were kept.
    language: Mapped[str | None] = mapped_column(String(35))
    stripe_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    # The "remind me later" email the reader came back through, if any.
    reminder_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminders.id", ondelete="SET NULL"), index=True
    )
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)

    supporter: Mapped[Supporter | None] = relationship(back_populates="checkout_attempts")


class Attributed:
    """Where the gift that started this came from, copied from its checkout attempt."""

    checkout_attempt_id: Mapped[str | None] = mapped_column(
        ForeignKey("checkout_attempts.id", ondelete="SET NULL")
    )
    source: Mapped[str | None] = mapped_column(String(500))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))


class RecurringSupport(Attributed, db.Model):  # type: ignore[name-defined]
    """A monthly or annual gift: one Stripe subscription, with its latest known state.

    ``status_as_of`` is the ``created`` time of the Stripe event the state came
    from; an older event never overwrites a newer state.
    """

    __tablename__ = "recurring_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    frequency: Mapped[str | None] = mapped_column(String(10))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(30), default="incomplete", index=True)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Its first paid invoice: a trial, or a gift whose first payment failed, counts in
    # the reports from here, never retroactively (``reports.rollups``).
    first_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the period paid for ends: the next payment's date while it renews (Stripe's
    # ``current_period_end``), kept with the state it came with.
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Stripe's ``pause_collection``: the gift stays ``active`` but no invoice is collected,
    # until ``collection_resumes_at`` (None: until resumed), as the last state said.
    collection_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    collection_resumes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    supporter: Mapped[Supporter | None] = relationship()


class Payment(Attributed, db.Model):  # type: ignore[name-defined]
    """Money that arrived: a one-time gift or one invoice of a recurring gift.

    Keyed by Stripe's payment intent (one-time) or invoice (recurring); refunds
    and disputes adjust it in place, and ``net_minor`` is what we keep.
    """

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        CheckConstraint("amount_refunded_minor >= 0", name="refund_not_negative"),
        # By customer, payments are only looked for to link them to a supporter found later
        # (membership.ledger.supporters): only the unlinked ones need indexing.
        Index(
            "ix_payments_unlinked_customer",
            "stripe_customer_id",
            sqlite_where=text("supporter_id IS NULL"),
            postgresql_where=text("supporter_id IS NULL"),
        ),
        # Learning a price's interval finds the payments that charged it.
        Index(
            "ix_payments_stripe_price_id",
            "stripe_price_id",
            sqlite_where=text("stripe_price_id IS NOT NULL"),
            postgresql_where=text("stripe_price_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    recurring_support_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_supports.id", ondelete="SET NULL"), index=True
    )
    frequency: Mapped[str | None] = mapped_column(String(10))
    # The price an invoice charged: its interval, once known, is the payment's frequency.
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # succeeded | partially_refunded | refunded | disputed | dispute_lost
    status: Mapped[str] = mapped_column(String(30), default="succeeded")
    dispute_status: Mapped[str | None] = mapped_column(String(40))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    supporter: Mapped[Supporter | None] = relationship()
    recurring_support: Mapped[RecurringSupport | None] = relationship()

    @hybrid_property
    def held_minor(self) -> int:
        """Disputed money the publication does not have: while a dispute holds it, or lost.
        Also an SQL expression (``Payment.held_minor``), for the reports' sums."""
        return self.amount_disputed_minor if self.status in DISPUTE_HOLDS_MONEY else 0

    @held_minor.inplace.expression
    @classmethod
    def _held_minor_expression(cls) -> ColumnElement[int]:
        return case((cls.status.in_(DISPUTE_HOLDS_MONEY), cls.amount_disputed_minor), else_=0)

    @hybrid_property
    def net_minor(self) -> int:
        """What the publication keeps: refunds, and disputed money while it is held or lost.
        Also an SQL expression (``Payment.net_minor``): one rule for pages and exports."""
        return self.amount_minor - self.amount_refunded_minor - self.held_minor


class ChargeAdjustment(db.Model):  # type: ignore[name-defined]
    """Refunds and disputes of one payment intent, kept even before its payment is recorded.

    Stripe may deliver ``charge.refunded`` before the event that records the
    payment; the adjustment waits here and is applied when the payment appears.
    """

    __tablename__ = "charge_adjustments"

    stripe_payment_intent_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    dispute_status: Mapped[str | None] = mapped_column(String(40))
    amount_disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    dispute_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StripePrice(db.Model):  # type: ignore[name-defined]
    """A recurring price's interval, as a subscription event showed it. Stripe never
    changes a price's interval (a new interval is a new price), so once known it holds."""

    __tablename__ = "stripe_prices"
    __table_args__ = (
        CheckConstraint(sql_in("frequency", RECURRING_FREQUENCIES), name="frequency_known"),
    )

    stripe_price_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10))


class SupersededEmail(db.Model):  # type: ignore[name-defined]
    """An address a supporter's customer changed away from, and when: a guest gift made
    from it before the change, delivered after it, still finds its giver."""

    __tablename__ = "superseded_emails"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    supporter_id: Mapped[int] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), index=True
    )
    superseded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingCustomerEmail(db.Model):  # type: ignore[name-defined]
    """A customer's email as ``customer.updated`` stated it before anything of theirs was
    recorded: applied to their supporter when their gift arrives (then deleted), so the
    latest email wins in any order; forgotten after 30 days like event payloads."""

    __tablename__ = "pending_customer_emails"

    stripe_customer_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoicePaymentIntent(db.Model):  # type: ignore[name-defined]
    """Which payment intent paid an invoice (from ``invoice_payment.paid``), in any order."""

    __tablename__ = "invoice_payment_intents"

    stripe_invoice_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    stripe_payment_intent_id: Mapped[str] = mapped_column(String(255))


class PaymentFailure(db.Model):  # type: ignore[name-defined]
    """A recurring payment that failed: one row per invoice attempt, for the at-risk report."""

    __tablename__ = "payment_failures"
    __table_args__ = (UniqueConstraint("stripe_invoice_id", "attempt_count"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stripe_invoice_id: Mapped[str] = mapped_column(String(255))
    attempt_count: Mapped[int] = mapped_column(Integer, default=1)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), index=True)
    recurring_support_id: Mapped[int | None] = mapped_column(
        ForeignKey("recurring_supports.id", ondelete="SET NULL"), index=True
    )
    supporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("supporters.id", ondelete="SET NULL"), index=True
    )
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
