"""Sending sign-in links: claim queued links atomically, send each once, record.

A request for a link only queues it (``service.request_sign_in_link``), so the answer
takes the same time for any address; the email goes out from here, in a thread of the
web process woken by every request (``Courier``) and, for what that misses, from
``flask account send-links`` (cron). A claim is committed before the email is sent, so
two senders never send one link; one that dies mid-send leaves a claim taken over after
``CLAIM_TIMEOUT`` and sent again with the same Message-ID (mail systems drop such a
duplicate), as reminders do. A refused email is retried, with a growing pause, until the
link expires.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update

from membership import clock
from membership.account import service
from membership.account.models import SignInLink
from membership.config import Settings
from membership.extensions import db
from membership.i18n import asked_language, force_locale, lazy_gettext
from membership.ledger.models import Supporter
from membership.mail import (
    Mail,
    Mailer,
    MailRefused,
    MailUnavailable,
    message_id_for,
)
from membership.notices.sender import language_of
from membership.reminders.sender import worker_name

log = logging.getLogger(__name__)

SUBJECT = lazy_gettext("Your sign-in link")
CLAIM_TIMEOUT = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)
BATCH_SIZE = 20


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def send_queued_links(
    settings: Settings, secret_key: str, now: datetime | None = None, worker: str | None = None
) -> SendReport:
    """Send every queued sign-in link; give up on those that expired unsent."""
    now = now or clock.now()
    worker = worker or worker_name()
    report = SendReport()
    _give_up_expired(now)
    config = settings.reminders  # the one mail server and sender address of the app
    with Mailer(config.smtp_url, config.mail_from) as mailer:
        while batch := _claim(now, worker):
            if not _send_batch(settings, secret_key, mailer, batch, now, worker, report):
                break
    return report


def _give_up_expired(now: datetime) -> None:
    db.session.execute(
        update(SignInLink)
        .where(SignInLink.status.in_(("queued", "sending")), SignInLink.expires_at <= now)
        .values(status="failed", nonce=None, last_error="expired before it was sent")
    )
    db.session.commit()


def _claim(now: datetime, worker: str) -> list[tuple[int, str, str, str | None]]:
    due = (
        select(SignInLink.id)
        .where(
            SignInLink.expires_at > now,
            or_(
                and_(
                    SignInLink.status == "queued",
                    or_(SignInLink.next_attempt_at.is_(None), SignInLink.next_attempt_at <= now),
                ),
                and_(SignInLink.status == "sending", SignInLink.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .order_by(SignInLink.id)
        .limit(BATCH_SIZE)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = (
        db.session.execute(
            update(SignInLink)
            .where(SignInLink.id.in_(due.scalar_subquery()))
            .values(
                status="sending",
                claimed_at=now,
                claimed_by=worker,
                attempts=SignInLink.attempts + 1,
            )
            .returning(SignInLink.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    rows = db.session.execute(
        select(SignInLink.id, SignInLink.nonce, Supporter.email, SignInLink.supporter_id)
        .join(Supporter, Supporter.id == SignInLink.supporter_id)
        .where(SignInLink.id.in_(ids))
        .order_by(SignInLink.id)
    ).all()
    db.session.commit()
    return [
        (row.id, row.nonce, row.email, language_of(row.supporter_id)) for row in rows if row.nonce
    ]


def _send_batch(
    settings: Settings,
    secret_key: str,
    mailer: Mailer,
    batch: list[tuple[int, str, str, str | None]],
    now: datetime,
    worker: str,
    report: SendReport,
) -> bool:
    mine = and_(SignInLink.status == "sending", SignInLink.claimed_by == worker)
    reachable = True
    for link_id, nonce, email, language in batch:
        values: dict[str, object]
        if not reachable:
            values = {"status": "queued", "attempts": SignInLink.attempts - 1, "claimed_by": None}
        else:
            try:
                token = service.token_for(nonce, secret_key)
                mailer.send(sign_in_mail(settings, email, token, language))
            except MailRefused as exc:
                if exc.permanent:
                    values = {"status": "failed", "nonce": None, "last_error": str(exc)[:500]}
                    report.failed += 1
                else:
                    values = {
                        "status": "queued",
                        "next_attempt_at": now + RETRY_AFTER,
                        "claimed_by": None,
                        "last_error": str(exc)[:500],
                    }
                    report.retrying += 1
                log.info("sign-in link %s refused: %s", link_id, exc)
            except MailUnavailable as exc:
                reachable = False
                report.errors.append(str(exc))
                log.error("mail server unavailable, sign-in links left queued: %s", exc)
                values = {
                    "status": "queued",
                    "attempts": SignInLink.attempts - 1,
                    "claimed_by": None,
                }
            else:
                values = {"status": "sent", "sent_at": now, "nonce": None, "last_error": None}
                report.sent += 1
        db.session.execute(
            update(SignInLink).where(SignInLink.id == link_id, mine).values(**values)
        )
        db.session.commit()
    return reachable


def sign_in_mail(settings: Settings, email: str, token: str, language: str | None = None) -> Mail:
    """The sign-in email: plain text and HTML, one link, no tracking; in the language the
    supporter last gave in (``notices.sender.language_of``), the default without one."""
    with force_locale(language):
        return _sign_in_mail(settings, email, token, language)


def _sign_in_mail(settings: Settings, email: str, token: str, language: str | None) -> Mail:
    asked = asked_language(language)
    context = {
        "link": f"{settings.public_base_url}/account/sign-in/{token}"
        + (f"?{urlencode({'lang': asked})}" if asked else ""),
        "site": urlsplit(settings.public_base_url).netloc,
        "minutes": int(service.LINK_LIFETIME.total_seconds() // 60),
    }
    env = current_app.jinja_env
    return Mail(
        to=email,
        subject=str(SUBJECT),
        text=env.get_template("account/email.txt").render(context),
        html=env.get_template("account/email.html").render(context),
        message_id=message_id_for("sign-in", token, settings.reminders.mail_from),
        headers={"Auto-Submitted": "auto-generated"},
        secrets=(token,),
    )


class Courier:
    """A thread of the web process that sends queued links as soon as a request wakes it,
    and once a minute anyway (retries, and what another process queued). Started on the
    first wake, so CLI commands and forked workers start none they do not use."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sign-in-links", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=60)
            self._wake.clear()
            try:
                with self.app.app_context():
                    settings: Settings = self.app.extensions["membership.settings"]
                    send_queued_links(settings, self.app.config["SECRET_KEY"])
                    service.forget_old_links()
            except Exception:  # keep the thread: the next wake tries again
                log.exception("sending sign-in links failed")
