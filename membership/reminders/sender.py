"""Sending due reminders: claim a batch atomically, send over one SMTP connection, record.

Several workers on several machines may run at once. A batch is claimed in one
statement (``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)`` on
PostgreSQL; SQLite has a single writer) and committed before any email goes out.
A claim older than ``REMINDER_CLAIM_TIMEOUT_SECONDS`` belongs to a worker that died
and is taken again, so no reminder is lost.

Delivery is at least once, never at most once: a worker that dies after the SMTP
server accepted a message but before its batch was recorded leaves the claim to
be retried, and that message is sent again. The window is one batch (``BATCH_SIZE``
messages), and the retry carries the same Message-ID (derived from the reminder),
so mail systems that de-duplicate drop it. Losing a reminder the reader asked for
was judged worse than a rare duplicate after a crash.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import and_, func, literal_column, or_, select, update

from membership import clock, mail_claims, money
from membership.config import Settings
from membership.extensions import db
from membership.i18n import asked_language, force_locale, lazy_gettext
from membership.mail import (
    SMTP_TIMEOUT_SECONDS,
    Mail,
    Mailer,
    MailRefused,
    MailUnavailable,
    message_id_for,
)
from membership.reminders.counted import COUNTED_TIMES, announce_set
from membership.reminders.models import Reminder

log = logging.getLogger(__name__)

CLAIMS = mail_claims.ClaimColumns.of(
    Reminder, sending="sending", waiting="scheduled", failed="failed"
)

# Claimed and recorded together: larger batches cost fewer commits (on PostgreSQL a commit
# per 20 messages held sending to 43% of raw smtplib, per 50 to 56%), smaller ones shrink
# what a crash can send twice. A slow batch gives back what it could not start in time
# (``_sending_window``), so no claim is taken over while its worker is still sending.
BATCH_SIZE = 50
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)
SUBJECT = lazy_gettext("Your reminder: support independent journalism")


class MailNotConfigured(RuntimeError):
    """Production without SMTP_URL: reminders would only reach the log."""


@dataclass
class SendReport:
    """What one run did; ``skipped`` were cancelled or converted after being claimed."""

    due: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    """A claimed reminder: what its email needs, nothing more."""

    id: int
    token: str
    email: str
    frequency: str | None
    amount_minor: int | None
    currency: str | None
    source: str | None
    attempts: int
    language: str | None = None  # the reader's, when they asked; None: the default


# What a claimed reminder's email is built from.
MESSAGE_COLUMNS = (
    Reminder.id,
    Reminder.token,
    Reminder.email,
    Reminder.frequency,
    Reminder.amount_minor,
    Reminder.currency,
    Reminder.source,
    Reminder.attempts,
    Reminder.language,
)


def worker_name() -> str:
    """Who holds a claim: host, process and a random suffix (several workers per process)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(attempts: int) -> timedelta:
    """5 minutes after the first refusal, then 4 times longer each time, at most 6 hours."""
    return min(BACKOFF_BASE * 4 ** max(attempts - 1, 0), BACKOFF_MAX)


def send_due_reminders(
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    worker: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> SendReport:
    """Send every reminder due at ``now`` (at most ``limit``), one email each.

    Raises ``MailNotConfigured`` in production without SMTP_URL (unless a dry run, which
    only counts). When the mail
    server is unreachable, the batch in hand is released unharmed and the run
    stops; the error is in the report.
    """
    config = settings.reminders
    report = SendReport()
    if dry_run:  # sends nothing, so needs no mail server
        report.due = _count_due(settings, now or clock.now(), limit)
        return report
    if config.smtp_url is None and settings.env == "production":
        raise MailNotConfigured(
            "Set SMTP_URL (and MAIL_FROM) to send reminders; without it they would only be logged."
        )
    worker = worker or worker_name()
    started = now or clock.now()
    mail_claims.give_up_stale_claims(
        CLAIMS, settings, started, "worker stopped while sending", updated_at=started
    )
    with Mailer(config.smtp_url, config.mail_from) as mailer:
        while limit is None or _done(report) < limit:
            # The clock is read per batch: a long run must not stamp late claims with its
            # start time, or other workers would take them for stale and send them again.
            moment = now or clock.now()
            wanted = batch_size if limit is None else min(batch_size, limit - _done(report))
            stop_starting_at = time.monotonic() + _sending_window(config.claim_timeout_seconds)
            batch = _claim(settings, moment, worker, wanted)
            if not batch:
                break
            report.due += len(batch)
            if not _send_batch(settings, mailer, batch, moment, worker, report, stop_starting_at):
                break
    return report


def _sending_window(claim_timeout_seconds: float) -> float:
    """How long after its claim a message may still be started.

    Another worker takes a claim over once it is ``claim_timeout_seconds`` old; a message
    started later than this could then go out twice. The margin leaves room for one slow
    send (five SMTP exchanges at their timeout) or a tenth of the timeout, whichever is
    longer, and at most half of it.
    """
    margin = max(5 * SMTP_TIMEOUT_SECONDS, claim_timeout_seconds / 10)
    return claim_timeout_seconds - min(margin, claim_timeout_seconds / 2)


def _done(report: SendReport) -> int:
    return report.sent + report.retrying + report.failed + report.skipped


def _due_condition(settings: Settings, now: datetime) -> Any:
    stale = now - timedelta(seconds=settings.reminders.claim_timeout_seconds)
    return or_(
        and_(
            Reminder.status == "scheduled",
            Reminder.due_at <= now,
            or_(Reminder.next_attempt_at.is_(None), Reminder.next_attempt_at <= now),
        ),
        and_(
            Reminder.status == "sending",
            Reminder.claimed_at < stale,
            Reminder.attempts < settings.reminders.max_attempts,
        ),
    )


def _count_due(settings: Settings, now: datetime, limit: int | None) -> int:
    count = db.session.scalar(
        select(func.count()).select_from(Reminder).where(_due_condition(settings, now))
    )
    db.session.rollback()
    return min(count or 0, limit) if limit is not None else count or 0


def _claim(settings: Settings, now: datetime, worker: str, size: int) -> list[Claimed]:
    """Take up to ``size`` due reminders for this worker, committed before sending."""
    due = (
        select(Reminder.id)
        .where(_due_condition(settings, now))
        .order_by(Reminder.due_at, Reminder.id)
        # Written into the SQL, not bound: with a bound LIMIT, a plan prepared once for any
        # batch size expected a large one and read every reminder instead of the first due.
        .limit(literal_column(str(int(size))))
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = db.session.execute(
        update(Reminder)
        .where(Reminder.id.in_(due.scalar_subquery()))
        .values(
            status="sending",
            claimed_at=now,
            claimed_by=worker,
            attempts=Reminder.attempts + 1,
            updated_at=now,
        )
        .returning(*MESSAGE_COLUMNS)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    claimed = [
        Claimed(
            id=row.id,
            token=row.token,
            email=row.email or "",
            frequency=row.frequency,
            amount_minor=row.amount_minor,
            currency=row.currency,
            source=row.source,
            attempts=row.attempts,
            language=row.language,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda reminder: reminder.id)


def _still_mine(ids: list[int], worker: str) -> set[int]:
    """Re-check just before sending: a cancel or a gift since the claim wins."""
    mine = set(
        db.session.scalars(
            select(Reminder.id).where(
                Reminder.id.in_(ids), Reminder.status == "sending", Reminder.claimed_by == worker
            )
        )
    )
    db.session.rollback()
    return mine


def _send_batch(
    settings: Settings,
    mailer: Mailer,
    batch: list[Claimed],
    now: datetime,
    worker: str,
    report: SendReport,
    stop_starting_at: float = float("inf"),
) -> bool:
    """Send one claimed batch and record every outcome; False when the run should stop: the
    server is unreachable, or the batch ran out of time before its first message.

    Messages not started by ``stop_starting_at`` (``time.monotonic()``) are given back, to
    be claimed afresh: their claim would soon be taken over by another worker."""
    mine = _still_mine([claimed.id for claimed in batch], worker)
    sent: list[int] = []
    refused: list[tuple[Claimed, MailRefused]] = []
    unsent: list[Claimed] = []
    reachable, out_of_time, started = True, False, False
    for claimed in batch:
        if claimed.id not in mine or not claimed.email:
            report.skipped += 1
            continue
        out_of_time = out_of_time or time.monotonic() >= stop_starting_at
        if not reachable or out_of_time:
            unsent.append(claimed)
            continue
        started = True
        try:
            mailer.send(reminder_mail(settings, claimed))
        except MailRefused as exc:
            refused.append((claimed, exc))
        except MailUnavailable as exc:
            reachable = False
            unsent.append(claimed)
            report.errors.append(str(exc))
            log.error("mail server unavailable, reminders released for later: %s", exc)
        else:
            sent.append(claimed.id)
    mine_now = and_(Reminder.status == "sending", Reminder.claimed_by == worker)
    marked_sent: Sequence[Any] = ()
    if sent:
        marked_sent = db.session.execute(
            update(Reminder)
            .where(Reminder.id.in_(sent), mine_now)
            .values(status="sent", sent_at=now, updated_at=now, last_error=None)
            .returning(*COUNTED_TIMES)
            .execution_options(synchronize_session=False)
        ).all()
        report.sent += len(sent)
    for claimed, error in refused:
        give_up = error.permanent or claimed.attempts >= settings.reminders.max_attempts
        values: dict[str, Any] = {"last_error": str(error)[:500], "updated_at": now}
        if give_up:
            values.update(status="failed")
            report.failed += 1
            log.warning(
                "reminder %s failed after %s attempts: %s", claimed.id, claimed.attempts, error
            )
        else:
            values.update(
                status="scheduled",
                next_attempt_at=now + backoff(claimed.attempts),
                claimed_at=None,
                claimed_by=None,
            )
            report.retrying += 1
            log.info("reminder %s refused (attempt %s): %s", claimed.id, claimed.attempts, error)
        db.session.execute(
            update(Reminder)
            .where(Reminder.id == claimed.id, mine_now)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if unsent:
        # Not the reminder's fault: give the attempt back and try again (at the next claim,
        # or the next run when the server is unreachable).
        mail_claims.give_back(
            CLAIMS,
            and_(Reminder.id.in_([claimed.id for claimed in unsent]), mine_now),
            mail_claims.UNAVAILABLE if not reachable else None,
            updated_at=now,
        )
    # Counted last: the reports' row for the month stays locked only until the commit.
    announce_set((row._mapping for row in marked_sent), "sent_at")
    db.session.commit()
    return reachable and (started or not out_of_time)


def links(settings: Settings, claimed: Claimed) -> tuple[str, str]:
    """The link back to the gift they were considering, and the one-click cancel link, each
    asking for the reader's language."""
    query: dict[str, str] = {}
    if claimed.frequency:
        query["frequency"] = claimed.frequency
    if claimed.amount_minor is not None and claimed.currency:
        query["amount"] = money.format_plain(claimed.amount_minor, claimed.currency)
    if claimed.currency:
        query["currency"] = claimed.currency
    if claimed.source:
        query["source"] = claimed.source
    query.update(utm_source="reminder", utm_medium="email", reminder=claimed.token)
    asked = asked_language(claimed.language)  # None for the default: links as they were
    language = f"?{urlencode({'lang': asked})}" if asked else ""
    if asked:
        query["lang"] = asked
    base = settings.public_base_url
    return (
        f"{base}/support?{urlencode(query)}",
        f"{base}/remind-me/cancel/{claimed.token}{language}",
    )


def reminder_mail(settings: Settings, claimed: Claimed) -> Mail:
    """The one friendly email a reminder sends: plain text and HTML, no tracking; in the
    language the reader asked in."""
    with force_locale(claimed.language):
        return _reminder_mail(settings, claimed)


def _reminder_mail(settings: Settings, claimed: Claimed) -> Mail:
    support_url, cancel_url = links(settings, claimed)
    gift = None
    if claimed.amount_minor is not None and claimed.currency:
        gift = money.format_money(claimed.amount_minor, claimed.currency)
    context = {
        "support_url": support_url,
        "cancel_url": cancel_url,
        "gift": gift,
        "frequency": claimed.frequency,
        "retention_days": settings.reminders.retention_days,
        # Where the address was typed: the sign-up form, or the widget calling it.
        "site": urlsplit(settings.public_base_url).netloc,
    }
    return Mail(
        to=claimed.email,
        subject=str(SUBJECT),
        # The templates straight from Jinja (cached there): Flask's render_template adds
        # request context and signals an email does not need, at a cost per message.
        text=current_app.jinja_env.get_template("reminders/email.txt").render(context),
        html=current_app.jinja_env.get_template("reminders/email.html").render(context),
        message_id=message_id_for("reminder", claimed.token, settings.reminders.mail_from),
        headers={
            "List-Unsubscribe": f"<{cancel_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        secrets=(claimed.token,),  # the cancel link's key: not for the development log
    )
