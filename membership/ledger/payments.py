"""Payments: money in, once per payment intent or invoice, netted by refunds and disputes.

Refunds and disputes are kept per payment intent in ``ChargeAdjustment`` and
copied onto the payment whenever either side arrives, so they apply correctly
even when Stripe delivers them before the payment itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from membership import clock
from membership.ledger import hooks, locks
from membership.ledger.attempts import ATTRIBUTION_COLUMNS, copy_attribution
from membership.models import ChargeAdjustment, InvoicePaymentIntent, Payment, PaymentFailure
from membership.sql.rows import Row, fetch_one, find_by_either, insert_unless_exists, select_all
from membership.sql.statements import Statement
from membership.vocabulary import PaymentStatus

PAYMENTS = Payment.__table__
ADJUSTMENTS = ChargeAdjustment.__table__
INVOICE_PAYMENT_INTENTS = InvoicePaymentIntent.__table__
FAILURES = PaymentFailure.__table__

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
    price_id: str | None = None


_LINKED_PAYMENT_INTENT = select(INVOICE_PAYMENT_INTENTS.c.stripe_payment_intent_id).where(
    INVOICE_PAYMENT_INTENTS.c.stripe_invoice_id == bindparam("invoice_id")
)
_FIND_ADJUSTMENT = Statement(
    select_all(ADJUSTMENTS).where(
        ADJUSTMENTS.c.stripe_payment_intent_id == bindparam("payment_intent_id")
    )
)
# A payment's intent (for a renewal, the one invoice_payment.paid named for its invoice) and
# the refunds and dispute waiting for it, in one query that always returns one row.
_INTENT = (
    select(
        func.coalesce(
            bindparam("payment_intent_id", type_=String), _LINKED_PAYMENT_INTENT.scalar_subquery()
        ).label("payment_intent_id")
    )
).subquery("intent")
_INTENT_AND_ADJUSTMENT = Statement(
    select(
        _INTENT.c.payment_intent_id,
        ADJUSTMENTS.c.amount_refunded_minor,
        ADJUSTMENTS.c.amount_disputed_minor,
        ADJUSTMENTS.c.dispute_status,
    ).select_from(
        _INTENT.outerjoin(
            ADJUSTMENTS, ADJUSTMENTS.c.stripe_payment_intent_id == _INTENT.c.payment_intent_id
        )
    )
)
_FIND_PAYMENT = find_by_either(
    PAYMENTS,
    (PAYMENTS.c.stripe_invoice_id, "invoice_id"),
    (PAYMENTS.c.stripe_payment_intent_id, "payment_intent_id"),
)
_FIND_PAYMENT_BY_INTENT = Statement(
    select_all(PAYMENTS).where(
        PAYMENTS.c.stripe_payment_intent_id == bindparam("payment_intent_id")
    )
)
_FIND_PAYMENT_BY_INVOICE = Statement(
    select_all(PAYMENTS).where(PAYMENTS.c.stripe_invoice_id == bindparam("invoice_id"))
)
_PAYMENT_INTENT_OF_CHARGE = Statement(
    select(ADJUSTMENTS.c.stripe_payment_intent_id).where(
        ADJUSTMENTS.c.stripe_charge_id == bindparam("charge_id")
    )
)


def record_payment(
    facts: PaymentFacts,
    *,
    supporter_id: int | None,
    attempt: Row | None = None,
    recurring: Row | None = None,
) -> None:
    """Row a payment once (keyed by invoice, else payment intent); later calls add links."""
    if _insert_new_payment(facts, supporter_id, attempt, recurring):
        if supporter_id is not None:
            hooks.payment_recorded.send(supporter_id=supporter_id, paid_at=facts.paid_at)
        return
    payment = fetch_one(
        _FIND_PAYMENT,
        PAYMENTS,
        invoice_id=facts.invoice_id,
        payment_intent_id=facts.payment_intent_id,
    )
    if payment is None:
        raise IntegrityError("payment insert conflicted but no row was found", None, Exception())
    if supporter_id is not None and payment["supporter_id"] is None:
        payment["supporter_id"] = supporter_id
        hooks.payment_recorded.send(supporter_id=supporter_id, paid_at=facts.paid_at)
    if facts.customer_id and payment["stripe_customer_id"] is None:
        payment["stripe_customer_id"] = facts.customer_id
    _link(payment, attempt, recurring)
    _apply_intent_and_adjustment(payment)
    payment.save()


def _insert_new_payment(
    facts: PaymentFacts,
    supporter_id: int | None,
    attempt: Row | None,
    recurring: Row | None,
) -> bool:
    """First sight: the whole row (links, attribution, waiting refunds and disputes) in one
    INSERT. False when the payment already exists (a repeat, or a concurrent insert)."""
    payment = Row(
        PAYMENTS,
        {
            "stripe_payment_intent_id": facts.payment_intent_id,
            "stripe_invoice_id": facts.invoice_id,
            "stripe_subscription_id": facts.subscription_id,
            "stripe_customer_id": facts.customer_id,
            "supporter_id": supporter_id,
            "recurring_support_id": None,
            "frequency": facts.frequency,
            "stripe_price_id": facts.price_id,
            "amount_minor": facts.amount_minor,
            "amount_refunded_minor": 0,
            "amount_disputed_minor": 0,
            "currency": facts.currency.upper(),
            "status": PaymentStatus.SUCCEEDED,
            "dispute_status": None,
            "paid_at": facts.paid_at,
            "created_at": clock.now(),
            "checkout_attempt_id": None,
            **{column: None for column in ATTRIBUTION_COLUMNS},
        },
        stored=False,
    )
    _link(payment, attempt, recurring)
    _apply_intent_and_adjustment(payment)
    return insert_unless_exists(PAYMENTS, payment.values) is not None


def _link(payment: Row, attempt: Row | None, recurring: Row | None) -> None:
    """Attach recurring support and the attribution of the gift that started it."""
    if recurring is not None:
        payment["recurring_support_id"] = recurring["id"]
        payment["stripe_subscription_id"] = recurring["stripe_subscription_id"]
        payment["frequency"] = payment["frequency"] or recurring["frequency"]
    copy_attribution(payment, attempt)
    copy_attribution(payment, recurring)


def _apply_intent_and_adjustment(payment: Row) -> None:
    """Learn the payment's intent (from invoice_payment.paid, for a renewal) and apply the
    refunds and dispute already recorded against it; derive its status either way."""
    intent_id, invoice_id = payment["stripe_payment_intent_id"], payment["stripe_invoice_id"]
    adjustment: Mapping[str, Any] | None = None
    if intent_id or invoice_id:
        locks.hold(payment_intent=intent_id)  # taken already when the event named it
        found = _INTENT_AND_ADJUSTMENT.first(payment_intent_id=intent_id, invoice_id=invoice_id)
        assert found is not None  # one row, always
        if found["payment_intent_id"] and not intent_id:
            # Learnt from the invoice: lock it, then read its refunds again under the lock.
            payment["stripe_payment_intent_id"] = found["payment_intent_id"]
            locks.hold(payment_intent=found["payment_intent_id"])
            found = _INTENT_AND_ADJUSTMENT.first(
                payment_intent_id=found["payment_intent_id"], invoice_id=invoice_id
            )
            assert found is not None
        if found["amount_refunded_minor"] is not None:  # a waiting adjustment (never NULL)
            adjustment = found
    _apply_adjustment(payment, adjustment)


def give_frequency(select_payments: Statement, frequency: str, **params: Any) -> None:
    """Give the payments ``select_payments`` finds (with ``params``) this frequency, learnt
    after they were recorded: one by one, so the report rollups see each move. A refund may
    be changing one of them: their intents are locked, then the payments read again."""
    rows = select_payments.rows(**params)
    intents = [row["stripe_payment_intent_id"] for row in rows]
    if any(intents):
        locks.hold_each("payment_intent", intents)
        rows = select_payments.rows(**params)
    for row in rows:
        payment = Row(PAYMENTS, row, stored=True)
        payment["frequency"] = frequency
        payment.save()


def link_invoice_payment_intent(invoice_id: str, payment_intent_id: str) -> None:
    """Remember which payment intent paid an invoice, and tell the payment if it exists."""
    insert_unless_exists(
        INVOICE_PAYMENT_INTENTS,
        {"stripe_invoice_id": invoice_id, "stripe_payment_intent_id": payment_intent_id},
    )
    payment = fetch_one(_FIND_PAYMENT_BY_INVOICE, PAYMENTS, invoice_id=invoice_id)
    if payment is not None and payment["stripe_payment_intent_id"] is None:
        payment["stripe_payment_intent_id"] = payment_intent_id
        _apply_intent_and_adjustment(payment)
        payment.save()


def _adjustment_for(payment_intent_id: str, charge_id: str | None) -> Row:
    adjustment = fetch_one(_FIND_ADJUSTMENT, ADJUSTMENTS, payment_intent_id=payment_intent_id)
    if adjustment is None:
        adjustment = Row(
            ADJUSTMENTS,
            {
                "stripe_payment_intent_id": payment_intent_id,
                "stripe_charge_id": None,
                "amount_refunded_minor": 0,
                "dispute_status": None,
                "amount_disputed_minor": 0,
                "dispute_as_of": None,
            },
            stored=False,
        )
    if charge_id and adjustment["stripe_charge_id"] is None:
        adjustment["stripe_charge_id"] = charge_id
    return adjustment


def payment_intent_of_charge(charge_id: str) -> str | None:
    """The payment intent of a charge we have already heard of, if any."""
    value = _PAYMENT_INTENT_OF_CHARGE.scalar(charge_id=charge_id)
    return str(value) if value is not None else None


def record_refunds(payment_intent_id: str, charge_id: str | None, amount_refunded: int) -> None:
    """Stripe reports the total refunded so far; totals only grow, so the largest wins."""
    adjustment = _adjustment_for(payment_intent_id, charge_id)
    adjustment["amount_refunded_minor"] = max(adjustment["amount_refunded_minor"], amount_refunded)
    _save_adjustment(adjustment)


def record_dispute(
    payment_intent_id: str, charge_id: str | None, status: str, amount: int, as_of: datetime
) -> None:
    """A dispute opened, changed or closed; an older report never overrides a newer one."""
    adjustment = _adjustment_for(payment_intent_id, charge_id)
    known_as_of = adjustment["dispute_as_of"]
    if known_as_of is not None and as_of < known_as_of:
        return
    if (
        known_as_of == as_of
        and adjustment["dispute_status"] is not None
        and adjustment["dispute_status"] not in OPEN_DISPUTES
        and status in OPEN_DISPUTES
    ):
        return  # same second: a closed dispute stays closed
    adjustment["dispute_status"] = status
    adjustment["dispute_as_of"] = as_of
    adjustment["amount_disputed_minor"] = amount if status in FUNDS_HELD_DISPUTES else 0
    _save_adjustment(adjustment)


def _save_adjustment(adjustment: Row) -> None:
    """Keep the adjustment and apply it to its payment, if that has arrived."""
    adjustment.save()
    payment = fetch_one(
        _FIND_PAYMENT_BY_INTENT,
        PAYMENTS,
        payment_intent_id=adjustment["stripe_payment_intent_id"],
    )
    if payment is not None:
        _apply_adjustment(payment, adjustment.values)
        payment.save()


def _apply_adjustment(payment: Row, adjustment: Mapping[str, Any] | None) -> None:
    """Copy refunds and the dispute onto the payment and derive its status."""
    if adjustment is not None:
        payment["amount_refunded_minor"] = min(
            adjustment["amount_refunded_minor"], payment["amount_minor"]
        )
        payment["amount_disputed_minor"] = adjustment["amount_disputed_minor"]
        payment["dispute_status"] = adjustment["dispute_status"]
    payment["status"] = payment_status(payment.values)


def payment_status(payment: Mapping[str, Any]) -> str:
    """The one status reports show, derived from refunds and the dispute."""
    if payment["dispute_status"] == "lost":
        return PaymentStatus.DISPUTE_LOST
    if payment["dispute_status"] in OPEN_DISPUTES:
        return PaymentStatus.DISPUTED
    if payment["amount_refunded_minor"] >= payment["amount_minor"] > 0:
        return PaymentStatus.REFUNDED
    if payment["amount_refunded_minor"] > 0:
        return PaymentStatus.PARTIALLY_REFUNDED
    return PaymentStatus.SUCCEEDED


def record_failure(
    *,
    invoice_id: str,
    attempt_count: int,
    subscription_id: str | None,
    customer_id: str | None,
    recurring: Row | None,
    supporter_id: int | None,
    amount_minor: int,
    currency: str,
    failed_at: datetime,
) -> None:
    """One failed attempt to collect an invoice, recorded once for the at-risk report."""
    insert_unless_exists(
        FAILURES,
        {
            "stripe_invoice_id": invoice_id,
            "attempt_count": attempt_count,
            "stripe_subscription_id": subscription_id,
            "stripe_customer_id": customer_id,
            "recurring_support_id": recurring["id"] if recurring is not None else None,
            "supporter_id": supporter_id,
            "amount_minor": amount_minor,
            "currency": currency.upper(),
            "failed_at": failed_at,
        },
    )
