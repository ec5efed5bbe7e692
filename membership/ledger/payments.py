"""Payments: money in, once per payment intent or invoice, netted by refunds and disputes.

Refunds and disputes are kept per payment intent in ``ChargeAdjustment`` and
copied onto the payment whenever either side arrives, so they apply correctly
even when Stripe delivers them before the payment itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from membership import clock
from membership.database import insert_unless_exists
from membership.extensions import db
from membership.ledger.attempts import copy_attribution, copy_attribution_from
from membership.models import (
    ChargeAdjustment,
    CheckoutAttempt,
    InvoicePaymentIntent,
    Payment,
    PaymentFailure,
    RecurringSupport,
)
from membership.reports import rollups

# Disputes whose money Stripe has taken back while they are decided ("warning_*" are
# inquiries: no money moves) and the outcome that keeps it taken.
OPEN_DISPUTES = {"needs_response", "under_review", "warning_needs_response", "warning_under_review"}
FUNDS_HELD_DISPUTES = {"needs_response", "under_review", "lost"}


@dataclass(frozen=True)
class PaymentFacts:
    """What Stripe reported about money received."""

    amount_minor: int
    currency: str
    paid_at: datetime
    customer_id: str | None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    subscription_id: str | None = None
    frequency: str | None = None


def record_payment(
    facts: PaymentFacts,
    *,
    supporter_id: int | None,
    attempt: CheckoutAttempt | None = None,
    recurring: RecurringSupport | None = None,
) -> Payment:
    """Record a payment once (keyed by invoice, else payment intent); later calls add links."""
    payment = _existing_payment(facts)
    if payment is None:
        # First sight: build the whole row (links, attribution, waiting refunds) and insert
        # it in one statement; a concurrent insert of the same payment falls through below.
        new = _new_payment(facts, supporter_id, attempt, recurring)
        values = {c.key: getattr(new, c.key) for c in Payment.__table__.columns if c.key != "id"}
        inserted = insert_unless_exists(db.session, Payment, values)
        if inserted is not None:
            rollups.payment_recorded(inserted)  # report rollups: the ORM did not see this insert
            return inserted
        payment = _existing_payment(facts)
        if payment is None:
            raise IntegrityError(
                "payment insert conflicted but no row was found", None, Exception()
            )
    if supporter_id is not None and payment.supporter_id is None:
        payment.supporter_id = supporter_id
    if facts.customer_id and payment.stripe_customer_id is None:
        payment.stripe_customer_id = facts.customer_id
    _link(payment, attempt, recurring)
    return payment


def _new_payment(
    facts: PaymentFacts,
    supporter_id: int | None,
    attempt: CheckoutAttempt | None,
    recurring: RecurringSupport | None,
) -> Payment:
    """A transient Payment with everything known so far (it is inserted by values)."""
    payment = Payment(
        stripe_payment_intent_id=facts.payment_intent_id,
        stripe_invoice_id=facts.invoice_id,
        stripe_subscription_id=facts.subscription_id,
        stripe_customer_id=facts.customer_id,
        supporter_id=supporter_id,
        amount_minor=facts.amount_minor,
        amount_refunded_minor=0,
        amount_disputed_minor=0,
        currency=facts.currency.upper(),
        paid_at=facts.paid_at,
        frequency=facts.frequency,
        status="succeeded",
        created_at=clock.now(),
    )
    _link(payment, attempt, recurring)
    return payment


def _link(
    payment: Payment, attempt: CheckoutAttempt | None, recurring: RecurringSupport | None
) -> None:
    """Attach recurring support, attribution and a known payment intent; apply adjustments."""
    if recurring is not None:
        payment.recurring_support_id = recurring.id
        payment.stripe_subscription_id = recurring.stripe_subscription_id
        payment.frequency = payment.frequency or recurring.frequency
    copy_attribution(payment, attempt)
    if recurring is not None:
        copy_attribution_from(payment, recurring)
    if payment.stripe_payment_intent_id is None and payment.stripe_invoice_id:
        link = db.session.get(InvoicePaymentIntent, payment.stripe_invoice_id)
        if link is not None:
            payment.stripe_payment_intent_id = link.stripe_payment_intent_id
    _apply_adjustment(payment)


def _existing_payment(facts: PaymentFacts) -> Payment | None:
    """One query: the payment with this invoice, else the one with this payment intent."""
    conditions = []
    if facts.invoice_id:
        conditions.append(Payment.stripe_invoice_id == facts.invoice_id)
    if facts.payment_intent_id:
        conditions.append(Payment.stripe_payment_intent_id == facts.payment_intent_id)
    if not conditions:
        return None
    found = db.session.scalars(select(Payment).where(or_(*conditions)).limit(2)).all()
    for payment in found:
        if facts.invoice_id and payment.stripe_invoice_id == facts.invoice_id:
            return payment
    return found[0] if found else None


def link_invoice_payment_intent(invoice_id: str, payment_intent_id: str) -> None:
    """Remember which payment intent paid an invoice, and tell the payment if it exists."""
    if db.session.get(InvoicePaymentIntent, invoice_id) is None:
        db.session.add(
            InvoicePaymentIntent(
                stripe_invoice_id=invoice_id, stripe_payment_intent_id=payment_intent_id
            )
        )
    payment = db.session.scalar(select(Payment).where(Payment.stripe_invoice_id == invoice_id))
    if payment is not None and payment.stripe_payment_intent_id is None:
        payment.stripe_payment_intent_id = payment_intent_id
        _apply_adjustment(payment)


def _adjustment_for(payment_intent_id: str, charge_id: str | None) -> ChargeAdjustment:
    adjustment = db.session.get(ChargeAdjustment, payment_intent_id)
    if adjustment is None:
        adjustment = ChargeAdjustment(
            stripe_payment_intent_id=payment_intent_id,
            amount_refunded_minor=0,
            amount_disputed_minor=0,
        )
        db.session.add(adjustment)
    if charge_id and adjustment.stripe_charge_id is None:
        adjustment.stripe_charge_id = charge_id
    return adjustment


def payment_intent_of_charge(charge_id: str) -> str | None:
    """The payment intent of a charge we have already heard of, if any."""
    return db.session.scalar(
        select(ChargeAdjustment.stripe_payment_intent_id).where(
            ChargeAdjustment.stripe_charge_id == charge_id
        )
    )


def record_refunds(payment_intent_id: str, charge_id: str | None, amount_refunded: int) -> None:
    """Stripe reports the total refunded so far; totals only grow, so the largest wins."""
    adjustment = _adjustment_for(payment_intent_id, charge_id)
    adjustment.amount_refunded_minor = max(adjustment.amount_refunded_minor, amount_refunded)
    _apply_to_payment(payment_intent_id)


def record_dispute(
    payment_intent_id: str, charge_id: str | None, status: str, amount: int, as_of: datetime
) -> None:
    """A dispute opened, changed or closed; an older report never overrides a newer one."""
    adjustment = _adjustment_for(payment_intent_id, charge_id)
    if adjustment.dispute_as_of is not None and as_of < adjustment.dispute_as_of:
        return
    if (
        adjustment.dispute_as_of == as_of
        and adjustment.dispute_status is not None
        and adjustment.dispute_status not in OPEN_DISPUTES
        and status in OPEN_DISPUTES
    ):
        return  # same second: a closed dispute stays closed
    adjustment.dispute_status = status
    adjustment.dispute_as_of = as_of
    adjustment.amount_disputed_minor = amount if status in FUNDS_HELD_DISPUTES else 0
    _apply_to_payment(payment_intent_id)


def _apply_to_payment(payment_intent_id: str) -> None:
    payment = db.session.scalar(
        select(Payment).where(Payment.stripe_payment_intent_id == payment_intent_id)
    )
    if payment is not None:
        _apply_adjustment(payment)


def _apply_adjustment(payment: Payment) -> None:
    if payment.stripe_payment_intent_id is None:
        return
    adjustment = db.session.get(ChargeAdjustment, payment.stripe_payment_intent_id)
    if adjustment is not None:
        payment.amount_refunded_minor = min(adjustment.amount_refunded_minor, payment.amount_minor)
        payment.amount_disputed_minor = adjustment.amount_disputed_minor
        payment.dispute_status = adjustment.dispute_status
    payment.status = payment_status(payment)


def payment_status(payment: Payment) -> str:
    """The one status reports show, derived from refunds and the dispute."""
    if payment.dispute_status == "lost":
        return "dispute_lost"
    if payment.dispute_status in OPEN_DISPUTES:
        return "disputed"
    if payment.amount_refunded_minor >= payment.amount_minor > 0:
        return "refunded"
    if payment.amount_refunded_minor > 0:
        return "partially_refunded"
    return "succeeded"


def record_failure(
    *,
    invoice_id: str,
    attempt_count: int,
    subscription_id: str | None,
    customer_id: str | None,
    recurring: RecurringSupport | None,
    supporter_id: int | None,
    amount_minor: int,
    currency: str,
    failed_at: datetime,
) -> None:
    """One failed attempt to collect an invoice, recorded once for the at-risk report."""
    exists = db.session.scalar(
        select(PaymentFailure.id).where(
            PaymentFailure.stripe_invoice_id == invoice_id,
            PaymentFailure.attempt_count == attempt_count,
        )
    )
    if exists is not None:
        return
    db.session.add(
        PaymentFailure(
            stripe_invoice_id=invoice_id,
            attempt_count=attempt_count,
            stripe_subscription_id=subscription_id,
            stripe_customer_id=customer_id,
            recurring_support_id=recurring.id if recurring is not None else None,
            supporter_id=supporter_id,
            amount_minor=amount_minor,
            currency=currency.upper(),
            failed_at=failed_at,
        )
    )
