"""Sending owed notices: claim a batch, read each one's facts afresh, send, record.

The SMTP side is the app's one (``membership.mail.Mailer``, ``SMTP_URL``, ``MAIL_FROM``,
``REMINDER_MAX_ATTEMPTS``, ``REMINDER_CLAIM_TIMEOUT_SECONDS`` and the reminders'
back-off). A batch is claimed in one UPDATE (``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
and committed before any email goes out; each outcome is committed right after its
message, so a worker that dies sends at most one message twice, with the same
Message-ID (mail systems drop such a duplicate). A claim older than the timeout belongs
to a worker that died and is taken again.

Each notice is composed from the ledger as it is at sending time (``compose``): the
supporter's current address (none once erased: the notice is dropped), a failed invoice
since paid (dropped), an annual gift since cancelled or moved to another period
(dropped). Rendered in the supporter's language (``i18n.force_locale``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import render_template
from flask_babel import format_date
from sqlalchemy import and_, exists, literal_column, or_, select, update

from membership import clock, i18n, mail_claims, money
from membership.account.models import SupportChange
from membership.config import Settings
from membership.extensions import db
from membership.identity import publication
from membership.ledger.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    Supporter,
)
from membership.mail import Mail, Mailer, MailRefused, MailUnavailable, message_id_for
from membership.notices.models import Notice, NoticeKind, NoticeStatus
from membership.notices.service import RENEWING_STATUSES, queue_renewals_ahead
from membership.reminders.sender import MailNotConfigured, SendReport, backoff, worker_name
from membership.vocabulary import RecurringStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 50
# A notice whose row has no supporter yet (a payment recorded before its giver was
# known) waits this long for one, then is dropped.
WAIT_FOR_SUPPORTER = timedelta(days=1)
RETRY_WAITING = timedelta(minutes=10)
QUEUED, SENDING = NoticeStatus.QUEUED, NoticeStatus.SENDING
CLAIMS = mail_claims.ClaimColumns.of(
    Notice, sending=SENDING, waiting=QUEUED, failed=NoticeStatus.FAILED
)


@dataclass(frozen=True)
class Compose:
    """What a notice comes to at sending time: a message to send to ``supporter_id``, or
    ``dropped`` (the reason: it is no longer owed), or neither (wait: no supporter yet)."""

    mail: Mail | None = None
    supporter_id: int | None = None
    dropped: str | None = None


WAIT = Compose()


def send_due_notices(
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    worker: str | None = None,
) -> SendReport:
    """Owe the annual renewals coming up, then send every due notice (at most ``limit``).

    :raise MailNotConfigured: production without SMTP_URL.
    When the mail server is unreachable the notice in hand is given back and the run
    stops; the error is in the report.
    """
    mail = settings.reminders
    if mail.smtp_url is None and settings.env == "production":
        raise MailNotConfigured(
            "Set SMTP_URL (and MAIL_FROM) to send supporters' receipts and notices; without "
            "it they would only be logged."
        )
    report = SendReport()
    worker = worker or worker_name()
    queue_renewals_ahead(now)
    mail_claims.give_up_stale_claims(
        CLAIMS, settings, now or clock.now(), "worker stopped while sending"
    )
    with Mailer(mail.smtp_url, mail.mail_from) as mailer:
        while limit is None or report.due < limit:
            moment = now or clock.now()
            wanted = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - report.due)
            batch = _claim(settings, moment, worker, wanted)
            if not batch:
                break
            report.due += len(batch)
            for index, (notice_id, attempts) in enumerate(batch):
                if not _send_one(settings, mailer, notice_id, attempts, moment, worker, report):
                    _release([claimed for claimed, _ in batch[index + 1 :]], worker)
                    return report
    return report


def _due(settings: Settings, now: datetime) -> Any:
    stale = now - timedelta(seconds=settings.reminders.claim_timeout_seconds)
    return or_(
        and_(
            Notice.status == QUEUED,
            or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= now),
        ),
        and_(
            Notice.status == SENDING,
            Notice.claimed_at < stale,
            Notice.attempts < settings.reminders.max_attempts,
        ),
    )


def _claim(settings: Settings, now: datetime, worker: str, size: int) -> list[tuple[int, int]]:
    """Take up to ``size`` due notices for this worker, committed before sending."""
    due = (
        select(Notice.id)
        .where(_due(settings, now))
        .order_by(Notice.id)
        .limit(literal_column(str(int(size))))
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = db.session.execute(
        update(Notice)
        .where(Notice.id.in_(due.scalar_subquery()))
        .values(status=SENDING, claimed_at=now, claimed_by=worker, attempts=Notice.attempts + 1)
        .returning(Notice.id, Notice.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted((row.id, row.attempts) for row in rows)


def _mine(notice_id: int, worker: str) -> Any:
    return and_(Notice.id == notice_id, Notice.status == SENDING, Notice.claimed_by == worker)


def _record(notice_id: int, worker: str, **values: Any) -> None:
    db.session.execute(
        update(Notice)
        .where(_mine(notice_id, worker))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _send_one(
    settings: Settings,
    mailer: Mailer,
    notice_id: int,
    attempts: int,
    now: datetime,
    worker: str,
    report: SendReport,
) -> bool:
    """Compose, send and record one claimed notice; False when the server is unreachable."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.status != SENDING or notice.claimed_by != worker:
        db.session.rollback()
        report.skipped += 1
        return True
    composed = compose(settings, notice, now)
    db.session.rollback()  # what was read is not held while the server answers
    if composed.dropped is not None:
        _record(notice_id, worker, status=NoticeStatus.DROPPED, last_error=composed.dropped)
        report.skipped += 1
        return True
    if composed.mail is None:
        too_late = notice.created_at < now - WAIT_FOR_SUPPORTER
        _record(
            notice_id,
            worker,
            attempts=Notice.attempts - 1,
            claimed_at=None,
            claimed_by=None,
            **(
                {"status": NoticeStatus.DROPPED, "last_error": "no supporter to send it to"}
                if too_late
                else {"status": QUEUED, "next_attempt_at": now + RETRY_WAITING}
            ),
        )
        report.skipped += 1
        return True
    values: dict[str, Any]
    try:
        mailer.send(composed.mail)
    except MailRefused as error:
        give_up = error.permanent or attempts >= settings.reminders.max_attempts
        values = {"last_error": str(error)[:500]}
        if give_up:
            values["status"] = NoticeStatus.FAILED
            report.failed += 1
            log.warning("notice %s failed: %s", notice_id, error)
        else:
            values.update(
                status=QUEUED,
                next_attempt_at=now + backoff(attempts),
                claimed_at=None,
                claimed_by=None,
            )
            report.retrying += 1
            log.info("notice %s refused: %s", notice_id, error)
    except MailUnavailable as error:
        report.errors.append(str(error))
        log.error("mail server unavailable, notices left for later: %s", error)
        _release([notice_id], worker)
        return False
    else:
        values = {
            "status": NoticeStatus.SENT,
            "sent_at": now,
            "supporter_id": composed.supporter_id,
            "last_error": None,
        }
        report.sent += 1
    _record(notice_id, worker, **values)
    return True


def _release(notice_ids: list[int], worker: str) -> None:
    """Not the notice's fault (the server is down): give the attempt back for the next run."""
    for notice_id in notice_ids:
        mail_claims.give_back(CLAIMS, _mine(notice_id, worker))
    db.session.commit()


# -- Composing ------------------------------------------------------------------------------


def compose(settings: Settings, notice: Notice, now: datetime) -> Compose:
    """The notice as the ledger stands now: its message, or why it is no longer owed."""
    if notice.kind == NoticeKind.RECEIPT:
        return _receipt(settings, notice)
    if notice.kind == NoticeKind.PAYMENT_FAILED:
        return _payment_failed(settings, notice)
    if notice.kind == NoticeKind.RENEWAL_AHEAD:
        return _renewal_ahead(settings, notice, now)
    return _change_confirmed(settings, notice)


def _receipt(settings: Settings, notice: Notice) -> Compose:
    payment = db.session.get(Payment, notice.payment_id) if notice.payment_id else None
    if payment is None:
        return Compose(dropped="the payment is gone")
    if settings.stripe_sends_receipts:
        return Compose(dropped="Stripe sends receipts")
    renewal = payment.recurring_support_id is not None and bool(
        db.session.scalar(
            select(
                exists().where(
                    Payment.recurring_support_id == payment.recurring_support_id,
                    Payment.paid_at < payment.paid_at,
                )
            )
        )
    )
    return _message(
        settings,
        notice,
        payment.supporter_id,
        "receipt",
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        paid_at=payment.paid_at,
        frequency=payment.frequency,
        recurring=payment.recurring_support_id is not None,
        renewal=renewal,
        receipt_text=settings.receipt_text,
        reference=payment.stripe_invoice_id or payment.stripe_payment_intent_id,
    )


def _payment_failed(settings: Settings, notice: Notice) -> Compose:
    failure = (
        db.session.get(PaymentFailure, notice.payment_failure_id)
        if notice.payment_failure_id
        else None
    )
    if failure is None:
        return Compose(dropped="the failed payment is gone")
    paid = db.session.scalar(
        select(exists().where(Payment.stripe_invoice_id == failure.stripe_invoice_id))
    )
    if paid:
        return Compose(dropped="the invoice was paid")
    later = db.session.scalar(
        select(
            exists().where(
                PaymentFailure.stripe_invoice_id == failure.stripe_invoice_id,
                PaymentFailure.attempt_count > failure.attempt_count,
            )
        )
    )
    if later:
        return Compose(dropped="a later attempt failed too")
    recurring = (
        db.session.get(RecurringSupport, failure.recurring_support_id)
        if failure.recurring_support_id
        else None
    )
    if recurring is not None and recurring.status in (
        RecurringStatus.CANCELED,
        RecurringStatus.INCOMPLETE_EXPIRED,
    ):
        return Compose(dropped="the gift has ended")
    return _message(
        settings,
        notice,
        failure.supporter_id,
        "payment_failed",
        amount_minor=failure.amount_minor,
        currency=failure.currency,
        failed_at=failure.failed_at,
        frequency=recurring.frequency if recurring is not None else None,
    )


def _renewal_ahead(settings: Settings, notice: Notice, now: datetime) -> Compose:
    recurring = (
        db.session.get(RecurringSupport, notice.recurring_support_id)
        if notice.recurring_support_id
        else None
    )
    if (
        recurring is None
        or notice.renews_at is None
        or recurring.status not in RENEWING_STATUSES
        or recurring.cancel_at_period_end
        or recurring.collection_paused
        or recurring.current_period_end != notice.renews_at
        or notice.renews_at <= now
        or recurring.amount_minor is None
        or not recurring.currency
    ):
        return Compose(dropped="the gift no longer renews then")
    return _message(
        settings,
        notice,
        recurring.supporter_id,
        "renewal_ahead",
        amount_minor=recurring.amount_minor,
        currency=recurring.currency,
        renews_at=notice.renews_at,
    )


def _change_confirmed(settings: Settings, notice: Notice) -> Compose:
    change = (
        db.session.get(SupportChange, notice.support_change_id)
        if notice.support_change_id
        else None
    )
    recurring = (
        db.session.get(RecurringSupport, notice.recurring_support_id)
        if notice.recurring_support_id
        else None
    )
    if change is None or recurring is None:
        return Compose(dropped="the change is gone")
    return _message(
        settings,
        notice,
        recurring.supporter_id,
        "change_confirmed",
        change=change.kind,
        amount_minor=change.amount_minor,
        currency=recurring.currency,
        frequency=getattr(change, "frequency", None) or recurring.frequency,
        resumes_at=getattr(change, "resumes_at", None),
        period_end=recurring.current_period_end,
    )


def _message(
    settings: Settings,
    notice: Notice,
    supporter_id: int | None,
    template: str,
    **facts: Any,
) -> Compose:
    """The message to the supporter's current address, in their language; WAIT when the
    row names no supporter yet."""
    supporter = db.session.get(Supporter, supporter_id) if supporter_id else None
    if supporter is None:
        return WAIT
    if not supporter.email or "@" not in supporter.email:
        return Compose(dropped="no address to send it to")
    language = language_of(supporter.id)
    with i18n.force_locale(language):
        context = {
            **facts,
            "account_url": f"{settings.public_base_url}/account",
            "publication": publication(),
            "money": money.format_money,
            "day": _day,
        }
        subject = _subject(template, context)
        text = render_template(f"notices/{template}.txt", **context)
        html = render_template(f"notices/{template}.html", **context)
    return Compose(
        mail=Mail(
            to=supporter.email,
            subject=subject,
            text=text,
            html=html,
            # The same for every attempt at this notice: a receiver drops a duplicate.
            message_id=message_id_for("notice", notice.key, settings.reminders.mail_from),
            headers={"Auto-Submitted": "auto-generated"},
        ),
        supporter_id=supporter.id,
    )


def _day(moment: datetime | None) -> str:
    """A date as the supporter's language writes it (UTC: the date Stripe's records show)."""
    return format_date(moment.date(), format="long") if moment is not None else ""


def _subject(template: str, context: dict[str, Any]) -> str:
    name = context["publication"].name
    if template == "receipt":
        return i18n.gettext("Thank you: your receipt from %(name)s", name=name)
    if template == "payment_failed":
        return i18n.gettext("Your gift to %(name)s could not be collected", name=name)
    if template == "renewal_ahead":
        return i18n.gettext(
            "Your annual gift to %(name)s renews on %(date)s",
            name=name,
            date=_day(context["renews_at"]),
        )
    return i18n.gettext("Your change to your gift to %(name)s", name=name)


def language_of(supporter_id: int) -> str | None:
    """The language the supporter gave in: that of their latest checkout which recorded
    one (None: the default language)."""
    language: str | None = db.session.scalar(
        select(CheckoutAttempt.language)
        .where(CheckoutAttempt.supporter_id == supporter_id, CheckoutAttempt.language.is_not(None))
        .order_by(CheckoutAttempt.created_at.desc())
        .limit(1)
    )
    return language
