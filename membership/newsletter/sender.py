"""Sending confirmation emails: claim queued sign-ups, make their links, send, record.

The SMTP side is the reminders' (``membership.mail.Mailer``, the same ``SMTP_URL``,
``MAIL_FROM``, ``REMINDER_MAX_ATTEMPTS`` and ``REMINDER_CLAIM_TIMEOUT_SECONDS``, the same
back-off). A sign-up is claimed in its own UPDATE, which also stores the hashes of two new
tokens (confirm, unsubscribe), and committed before its email goes out; each outcome is
committed right after its message, so a worker that dies can send at most one message
twice. A retried email carries new tokens (only their hashes were kept, so the old ones
cannot be rebuilt): the links of an earlier copy then lead to "this link has expired".
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import and_, or_, select, update

from membership import clock, mail_claims
from membership.config import Settings
from membership.extensions import db
from membership.i18n import asked_language, force_locale, gettext
from membership.mail import Mail, Mailer, MailRefused, MailUnavailable, sender_domain
from membership.newsletter import service
from membership.newsletter.models import Subscriber
from membership.newsletter.settings import NewsletterSettings
from membership.reminders.sender import MailNotConfigured, SendReport, backoff, worker_name
from membership.vocabulary import ConfirmationMailStatus, NewsletterStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 50
QUEUED, SENDING = ConfirmationMailStatus.QUEUED, ConfirmationMailStatus.SENDING
CLAIMS = mail_claims.ClaimColumns.of(
    Subscriber,
    status="mail_status",
    attempts="mail_attempts",
    sending=SENDING,
    waiting=QUEUED,
    failed=ConfirmationMailStatus.FAILED,
)


@dataclass(frozen=True)
class Claimed:
    """A claimed sign-up: what its email needs, with the tokens made for it."""

    id: int
    email: str
    consent_wording: str
    attempts: int
    confirm_token: str
    unsubscribe_token: str
    language: str | None = None  # the sign-up's: the email is written in it when served


def send_due_confirmations(
    settings: Settings,
    newsletter: NewsletterSettings,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    worker: str | None = None,
) -> SendReport:
    """Send every queued confirmation email (at most ``limit``), one per sign-up.

    :raise MailNotConfigured: production without SMTP_URL.
    When the mail server is unreachable the message in hand is given back and the run
    stops; the error is in the report.
    """
    mail = settings.reminders
    if mail.smtp_url is None and settings.env == "production":
        raise MailNotConfigured(
            "Set SMTP_URL (and MAIL_FROM) to send newsletter confirmations; without it they "
            "would only be logged."
        )
    report = SendReport()
    worker = worker or worker_name()
    mail_claims.give_up_stale_claims(CLAIMS, settings, now or clock.now(), "worker stopped")
    with Mailer(mail.smtp_url, mail.mail_from) as mailer:
        while limit is None or report.due < limit:
            moment = now or clock.now()
            wanted = BATCH_SIZE if limit is None else min(BATCH_SIZE, limit - report.due)
            batch = _claim(settings, moment, worker, wanted)
            if not batch:
                break
            report.due += len(batch)
            for claimed in batch:
                if not _send_one(settings, newsletter, mailer, claimed, moment, worker, report):
                    _release(batch[batch.index(claimed) + 1 :], worker, moment)
                    return report
    return report


def _due(settings: Settings, now: datetime) -> Any:
    stale = now - timedelta(seconds=settings.reminders.claim_timeout_seconds)
    return and_(
        Subscriber.status == NewsletterStatus.PENDING,
        Subscriber.consented_at > now - service.CONFIRM_WITHIN,
        or_(
            and_(
                Subscriber.mail_status == QUEUED,
                or_(Subscriber.next_attempt_at.is_(None), Subscriber.next_attempt_at <= now),
            ),
            and_(
                Subscriber.mail_status == SENDING,
                Subscriber.claimed_at < stale,
                Subscriber.mail_attempts < settings.reminders.max_attempts,
            ),
        ),
    )


def _claim(settings: Settings, now: datetime, worker: str, size: int) -> list[Claimed]:
    """Take up to ``size`` due sign-ups, each with new tokens, committed before sending."""
    due = select(Subscriber.id).where(_due(settings, now)).order_by(Subscriber.id).limit(size)
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = []
    for subscriber_id in db.session.scalars(due).all():
        confirm_token, unsubscribe_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        row = db.session.execute(
            update(Subscriber)
            # Due again in the UPDATE itself: on SQLite another worker may have claimed it
            # since the SELECT (PostgreSQL holds the row's lock).
            .where(Subscriber.id == subscriber_id, _due(settings, now))
            .values(
                mail_status=SENDING,
                claimed_at=now,
                claimed_by=worker,
                mail_attempts=Subscriber.mail_attempts + 1,
                confirm_token_hash=service.token_hash(confirm_token),
                unsubscribe_token_hash=service.token_hash(unsubscribe_token),
            )
            .returning(
                Subscriber.email,
                Subscriber.consent_wording,
                Subscriber.mail_attempts,
                Subscriber.language,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is not None and row.email:
            claimed.append(
                Claimed(
                    subscriber_id,
                    row.email,
                    row.consent_wording or "",
                    row.mail_attempts,
                    confirm_token,
                    unsubscribe_token,
                    row.language,
                )
            )
    db.session.commit()
    return claimed


def _mine(subscriber_id: int, worker: str) -> Any:
    return and_(
        Subscriber.id == subscriber_id,
        Subscriber.status == NewsletterStatus.PENDING,
        Subscriber.mail_status == SENDING,
        Subscriber.claimed_by == worker,
    )


def _send_one(
    settings: Settings,
    newsletter: NewsletterSettings,
    mailer: Mailer,
    claimed: Claimed,
    now: datetime,
    worker: str,
    report: SendReport,
) -> bool:
    """Send one claimed email and record the outcome; False when the server is unreachable."""
    still_mine = db.session.scalar(select(Subscriber.id).where(_mine(claimed.id, worker)))
    db.session.rollback()
    if still_mine is None:  # unsubscribed ("not me") or taken over since the claim
        report.skipped += 1
        return True
    values: dict[str, Any]
    try:
        mailer.send(confirmation_mail(settings, newsletter, claimed))
    except MailRefused as error:
        give_up = error.permanent or claimed.attempts >= settings.reminders.max_attempts
        values = {"last_error": str(error)[:500]}
        if give_up:
            values["mail_status"] = ConfirmationMailStatus.FAILED
            report.failed += 1
            log.warning("newsletter confirmation %s failed: %s", claimed.id, error)
        else:
            values.update(
                mail_status=QUEUED,
                next_attempt_at=now + backoff(claimed.attempts),
                claimed_at=None,
                claimed_by=None,
            )
            report.retrying += 1
            log.info("newsletter confirmation %s refused: %s", claimed.id, error)
    except MailUnavailable as error:
        report.errors.append(str(error))
        log.error("mail server unavailable, newsletter confirmations left for later: %s", error)
        _release([claimed], worker, now)
        return False
    else:
        values = {"mail_status": ConfirmationMailStatus.SENT, "last_error": None}
        report.sent += 1
    db.session.execute(
        update(Subscriber)
        .where(_mine(claimed.id, worker))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return True


def _release(unsent: list[Claimed], worker: str, now: datetime) -> None:
    """Not the sign-up's fault (the server is down): give the attempt back for the next run."""
    for claimed in unsent:
        mail_claims.give_back(CLAIMS, _mine(claimed.id, worker))
    db.session.commit()


def links(settings: Settings, claimed: Claimed) -> tuple[str, str]:
    """The confirmation link and the one-click unsubscribe ("not me") link, asking for the
    sign-up's language (when it is served and not the default)."""
    base = settings.public_base_url
    asked = asked_language(claimed.language)
    query = f"?{urlencode({'lang': asked})}" if asked else ""
    return (
        f"{base}/newsletter/confirm/{claimed.confirm_token}{query}",
        f"{base}/newsletter/unsubscribe/{claimed.unsubscribe_token}{query}",
    )


def confirmation_mail(settings: Settings, newsletter: NewsletterSettings, claimed: Claimed) -> Mail:
    """The one email a sign-up sends: how the address came to us, the link that confirms,
    that ignoring it keeps nothing; no images, no tracking, one-click unsubscribe. In the
    sign-up's language (the default when it is not one the app serves)."""
    with force_locale(claimed.language):
        return _confirmation_mail(settings, newsletter, claimed)


def _confirmation_mail(
    settings: Settings, newsletter: NewsletterSettings, claimed: Claimed
) -> Mail:
    confirm_url, unsubscribe_url = links(settings, claimed)
    context = {
        "confirm_url": confirm_url,
        "unsubscribe_url": unsubscribe_url,
        "consent_wording": claimed.consent_wording,
        "publication_name": newsletter.publication_name,
        "days": service.CONFIRM_WITHIN.days,
        "site": urlsplit(settings.public_base_url).netloc,
    }
    domain = sender_domain(settings.reminders.mail_from)
    return Mail(
        to=claimed.email,
        subject=gettext(
            "Confirm your subscription to the newsletter of %(name)s",
            name=newsletter.publication_name,
        ),
        text=current_app.jinja_env.get_template("newsletter/confirm_email.txt").render(context),
        html=current_app.jinja_env.get_template("newsletter/confirm_email.html").render(context),
        # New per attempt: a retry carries new links, and must not be dropped as a duplicate.
        message_id=f"<newsletter.{secrets.token_hex(16)}@{domain}>",
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        secrets=(claimed.confirm_token, claimed.unsubscribe_token),
    )
