"""The type of each ledger table's row, as ``Row.values`` holds it.

The ledger works on plain mappings (``membership.sql.rows.Row``) for speed; these say what
each holds, column by column, so a reader (and mypy, where a whole row is built) knows. A
test checks each against its table's columns, so they cannot drift from the schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class SupporterRow(TypedDict):
    """A row of ``supporters``."""

    id: int
    email: str
    stripe_customer_id: str | None
    created_at: datetime
    email_as_of: datetime | None


class CheckoutAttemptRow(TypedDict):
    """A row of ``checkout_attempts``."""

    id: str
    frequency: str
    amount_minor: int
    currency: str
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None
    language: str | None
    stripe_session_id: str
    status: str
    reminder_id: datetime | None
    supporter_id: int | None
    created_at: datetime


class RecurringSupportRow(TypedDict):
    """A row of ``recurring_supports``."""

    id: int
    stripe_subscription_id: str
    stripe_customer_id: str | None
    supporter_id: int | None
    frequency: str | None
    amount_minor: int | None
    currency: str | None
    status: str
    cancel_at_period_end: bool
    started_at: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    status_as_of: datetime | None
    created_at: datetime
    first_paid_at: datetime | None
    current_period_end: datetime | None
    collection_paused: bool
    collection_resumes_at: datetime | None
    checkout_attempt_id: str | None
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None


class PaymentRow(TypedDict):
    """A row of ``payments``."""

    id: int
    stripe_payment_intent_id: str | None
    stripe_invoice_id: str | None
    stripe_subscription_id: str | None
    stripe_customer_id: str | None
    supporter_id: int | None
    recurring_support_id: int | None
    frequency: str | None
    stripe_price_id: str | None
    amount_minor: int
    amount_refunded_minor: int
    amount_disputed_minor: int
    currency: str
    status: str
    dispute_status: str | None
    paid_at: datetime
    created_at: datetime
    checkout_attempt_id: str | None
    source: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_content: str | None


class ChargeAdjustmentRow(TypedDict):
    """A row of ``charge_adjustments``."""

    stripe_payment_intent_id: str
    stripe_charge_id: str | None
    amount_refunded_minor: int
    dispute_status: str | None
    amount_disputed_minor: int
    dispute_as_of: datetime | None


class InvoicePaymentIntentRow(TypedDict):
    """A row of ``invoice_payment_intents``."""

    stripe_invoice_id: str
    stripe_payment_intent_id: str


class PaymentFailureRow(TypedDict):
    """A row of ``payment_failures``."""

    id: int
    stripe_invoice_id: str
    attempt_count: int
    stripe_subscription_id: str | None
    stripe_customer_id: str | None
    recurring_support_id: int | None
    supporter_id: int | None
    amount_minor: int
    currency: str
    failed_at: datetime


class StripePriceRow(TypedDict):
    """A row of ``stripe_prices``."""

    stripe_price_id: str
    frequency: str


class SupersededEmailRow(TypedDict):
    """A row of ``superseded_emails``."""

    email: str
    supporter_id: int
    superseded_at: datetime


class PendingCustomerEmailRow(TypedDict):
    """A row of ``pending_customer_emails``."""

    stripe_customer_id: str
    email: str
    as_of: datetime


# Each ledger table's row type, by table name (``tests/ledger/test_rows.py`` checks them).
ROW_TYPES: dict[str, type] = {
    "supporters": SupporterRow,
    "checkout_attempts": CheckoutAttemptRow,
    "recurring_supports": RecurringSupportRow,
    "payments": PaymentRow,
    "charge_adjustments": ChargeAdjustmentRow,
    "invoice_payment_intents": InvoicePaymentIntentRow,
    "payment_failures": PaymentFailureRow,
    "stripe_prices": StripePriceRow,
    "superseded_emails": SupersededEmailRow,
    "pending_customer_emails": PendingCustomerEmailRow,
}
