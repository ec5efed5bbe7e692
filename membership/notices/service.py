"""Which emails a supporter is owed, decided as the facts arrive; each owed once.

- A payment written by the ledger (a first gift or a renewal) owes a receipt, unless
  Stripe sends receipts (``STRIPE_SENDS_RECEIPTS``).
- A failed attempt to collect an invoice owes one "update your card" email, unless the
  invoice is paid already or a later attempt of it is known; it waits ``FAILURE_GRACE``
  for a payment that makes it moot.
- An annual gift charged within ``RENEWAL_NOTICE_AHEAD`` owes a notice, once per period
  (``queue_renewals_ahead``, run by the sender before each run).
- A change a supporter asked Stripe for from their account page owes a confirmation.

The first two are the ledger's receivers (``hooks.row_written``): they run in its
transaction, write through its connection (``membership.sql.statements``) and only insert
a row into the outbox; a replayed or duplicated event inserts nothing (the row's unique
``key``). Everything is checked again when the email is sent (``sender``): a paid
invoice, a changed gift or an erased address then drop it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import SQLAlchemyError

from membership import clock
from membership.config import current_settings
from membership.database import insert_unless_exists
from membership.extensions import db
from membership.ledger.models import Payment, PaymentFailure, RecurringSupport
from membership.notices.models import Notice, NoticeKind, NoticeStatus
from membership.sql.rows import insert_ignoring
from membership.sql.statements import Statement, connection
from membership.vocabulary import Frequency, RecurringStatus

log = logging.getLogger(__name__)

NOTICES = Notice.__table__
PAYMENTS = Payment.__table__
FAILURES = PaymentFailure.__table__

# An event about money older than this (a replay, a sync after a long outage, example
# data) is history, not news: the account page lists it, no email announces it.
NEWS_FOR = timedelta(days=7)
# A failed payment is told this long after it failed, unless paid meanwhile: a reader whose
# card is refused in Checkout usually tries another at once, and must not be told later.
FAILURE_GRACE = timedelta(minutes=30)
# An annual gift's renewal is announced this long before it is charged.
RENEWAL_NOTICE_AHEAD = timedelta(days=7)
# Gifts whose next period Stripe will charge.
RENEWING_STATUSES = (RecurringStatus.ACTIVE, RecurringStatus.TRIALING)

_INVOICE_PAID = Statement(
    select(exists().where(PAYMENTS.c.stripe_invoice_id == bindparam("invoice_id")))
)
_LATER_ATTEMPT = Statement(
    select(
        exists().where(
            FAILURES.c.stripe_invoice_id == bindparam("invoice_id"),
            FAILURES.c.attempt_count > bindparam("attempt_count"),
        )
    )
)


def _queue(values: dict[str, Any]) -> None:
    """Insert one owed notice through the ledger's connection, unless its key exists."""
    row = {
        "supporter_id": None,
        "payment_id": None,
        "payment_failure_id": None,
        "recurring_support_id": None,
        "support_change_id": None,
        "renews_at": None,
        "next_attempt_at": None,
        "status": NoticeStatus.QUEUED,
        "attempts": 0,
        "created_at": clock.now(),
        **values,
    }
    statement = insert_ignoring(connection().dialect.name, NOTICES, frozenset(row), whole_row=False)
    statement.first(**row)


def is_news(moment: datetime) -> bool:
    return moment >= clock.now() - NEWS_FOR


def receipt_for_payment(
    table: object, *, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> None:
    """A payment was written (``hooks.row_written`` from ``payments``): a new one, or one
    whose supporter is known now, owes its giver a receipt. In the ledger's transaction."""
    if before is not None and (before["supporter_id"] is not None or after["supporter_id"] is None):
        return  # a refund, a dispute, a frequency learnt: not a payment's arrival
    if current_settings().stripe_sends_receipts or not is_news(after["paid_at"]):
        return
    _queue(
        {
            "kind": NoticeKind.RECEIPT,
            "key": f"{NoticeKind.RECEIPT}:{after['id']}",
            "supporter_id": after["supporter_id"],
            "payment_id": after["id"],
        }
    )


def warning_for_failure(
    table: object, *, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> None:
    """An attempt to collect an invoice failed (``hooks.row_written`` from
    ``payment_failures``, written once per invoice and attempt): its giver is owed one
    email, unless the invoice is paid already or a later attempt is known (events arrive
    in any order). In the ledger's transaction."""
    if before is not None or not is_news(after["failed_at"]):
        return
    invoice_id, attempt = after["stripe_invoice_id"], after["attempt_count"]
    if _INVOICE_PAID.scalar(invoice_id=invoice_id):
        return
    if _LATER_ATTEMPT.scalar(invoice_id=invoice_id, attempt_count=attempt):
        return
    _queue(
        {
            "kind": NoticeKind.PAYMENT_FAILED,
            "key": f"{NoticeKind.PAYMENT_FAILED}:{invoice_id}:{attempt}",
            "supporter_id": after["supporter_id"],
            "payment_failure_id": after["id"],
            "next_attempt_at": after["failed_at"] + FAILURE_GRACE,
        }
    )


def confirmation_for_change(change: Any, *, recurring: RecurringSupport, **extra: Any) -> None:
    """A supporter's change was accepted by Stripe (``account.changes.change_requested``):
    they are owed a confirmation of what they asked. Its own short transaction; a failure
    here is logged, never the supporter's: their change is made."""
    values = {
        "kind": NoticeKind.CHANGE_CONFIRMED,
        "key": f"{NoticeKind.CHANGE_CONFIRMED}:{change.id}",
        "supporter_id": recurring.supporter_id,
        "recurring_support_id": recurring.id,
        "support_change_id": change.id,
        "status": NoticeStatus.QUEUED,
        "attempts": 0,
        "created_at": clock.now(),
    }
    try:
        insert_unless_exists(db.session, Notice, values)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("could not owe the confirmation of change %s", change.id)


def queue_renewals_ahead(now: datetime | None = None) -> int:
    """Owe a notice to every annual gift Stripe charges within ``RENEWAL_NOTICE_AHEAD``,
    once per period (keyed by the gift and its period's end); how many were new."""
    now = now or clock.now()
    due = db.session.execute(
        select(
            RecurringSupport.id, RecurringSupport.supporter_id, RecurringSupport.current_period_end
        ).where(
            RecurringSupport.frequency == Frequency.ANNUAL,
            RecurringSupport.current_period_end > now,
            RecurringSupport.current_period_end <= now + RENEWAL_NOTICE_AHEAD,
            RecurringSupport.status.in_(RENEWING_STATUSES),
            RecurringSupport.cancel_at_period_end.is_(False),
            RecurringSupport.collection_paused.is_(False),
            ~exists().where(  # announced already (ix_supporter_notices_renewals)
                Notice.kind == NoticeKind.RENEWAL_AHEAD,
                Notice.recurring_support_id == RecurringSupport.id,
                Notice.renews_at == RecurringSupport.current_period_end,
            ),
        )
    ).all()
    queued = 0
    for recurring_id, supporter_id, period_end in due:
        assert period_end is not None  # the query's condition
        notice = insert_unless_exists(
            db.session,
            Notice,
            {
                "kind": NoticeKind.RENEWAL_AHEAD,
                "key": renewal_key(recurring_id, period_end),
                "supporter_id": supporter_id,
                "recurring_support_id": recurring_id,
                "renews_at": period_end,
                "status": NoticeStatus.QUEUED,
                "attempts": 0,
                "created_at": now,
            },
        )
        queued += notice is not None
    db.session.commit()
    return queued


def renewal_key(recurring_id: int, period_end: datetime) -> str:
    return f"{NoticeKind.RENEWAL_AHEAD}:{recurring_id}:{int(period_end.timestamp())}"


@dataclass(frozen=True)
class SentNotice:
    """What staff see of a notice: its kind and dates, never its contents."""

    kind: NoticeKind
    status: str
    created_at: datetime
    sent_at: datetime | None


def notices_of(supporter_id: int) -> list[SentNotice]:
    """The notices owed to a supporter, newest first, for their staff page."""
    rows = db.session.execute(
        select(Notice.kind, Notice.status, Notice.created_at, Notice.sent_at)
        .where(Notice.supporter_id == supporter_id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
    ).all()
    return [
        SentNotice(NoticeKind(row.kind), row.status, row.created_at, row.sent_at) for row in rows
    ]
