"""The one list of every table, each defined beside the package that owns it.

Imported once by ``create_app`` (and by Alembic's ``env.py``), so that every table is
registered on ``db.metadata`` before migrations compare or the app runs. Code may import
any model from here, or from its owner.
"""

from __future__ import annotations

from membership.account.models import SignInLink, SupportChange  # noqa: I001
from membership.columns import UTCDateTime, is_public_id, new_public_id, normalise_email
from membership.ledger.erased import ErasedCustomer
from membership.ledger.models import (
    Attributed,
    ChargeAdjustment,
    CheckoutAttempt,
    InvoicePaymentIntent,
    Payment,
    PaymentFailure,
    PendingCustomerEmail,
    RecurringSupport,
    StripePrice,
    SupersededEmail,
    Supporter,
)
from membership.newsletter.models import Subscriber
from membership.notices.models import Notice
from membership.reminders.models import Reminder  # noqa: E402, I001 (after the ledger's)
from membership.reports.models import (
    DailyRevenue,
    MonthlyFailures,
    MonthlyReminders,
    MonthlyRevenue,
    MonthlySource,
    RecurringFlow,
)
from membership.staff.models import AuditEntry, StaffUser
from membership.webhooks.cursor import SyncCursor
from membership.webhooks.models import StripeEvent

__all__ = [
    "Attributed",
    "AuditEntry",
    "ChargeAdjustment",
    "DailyRevenue",
    "ErasedCustomer",
    "CheckoutAttempt",
    "InvoicePaymentIntent",
    "MonthlyFailures",
    "MonthlyReminders",
    "MonthlyRevenue",
    "MonthlySource",
    "Notice",
    "Payment",
    "PaymentFailure",
    "PendingCustomerEmail",
    "RecurringFlow",
    "RecurringSupport",
    "Reminder",
    "SignInLink",
    "Subscriber",
    "SupportChange",
    "SyncCursor",
    "StaffUser",
    "StripeEvent",
    "StripePrice",
    "SupersededEmail",
    "Supporter",
    "UTCDateTime",
    "is_public_id",
    "new_public_id",
    "normalise_email",
]
