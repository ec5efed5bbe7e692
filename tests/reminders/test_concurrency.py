"""Several workers at once: every due reminder is delivered exactly once, even when the
SMTP server refuses some messages and a worker died holding a claim."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from membership.config import Settings
from membership.extensions import db
from membership.reminders import sender, service
from membership.reminders.models import Reminder
from tests.conftest import ON_POSTGRES
from tests.reminders.conftest import NOON, TODAY, SmtpSink

DUE = NOON - timedelta(hours=1)


def add_due_reminders(count: int) -> list[str]:
    emails = [f"reader{n:04d}@example.org" for n in range(count)]
    db.session.execute(
        insert(Reminder),
        [
            {
                "token": secrets.token_urlsafe(32),
                "email": email,
                "due_at": DUE,
                "status": "scheduled",
                "attempts": 0,
                "created_at": DUE - timedelta(days=7),
                "updated_at": DUE - timedelta(days=7),
            }
            for email in emails
        ],
    )
    db.session.commit()
    return emails


def refuse_some_first_tries(smtp: SmtpSink) -> None:
    """A flaky server: about one message in eight is refused (451) the first time it is seen."""
    seen: set[str] = set()

    def refuse(message: EmailMessage) -> str | None:
        message_id = str(message["Message-ID"])
        first = message_id not in seen
        seen.add(message_id)
        if first and int(hashlib.sha256(message_id.encode()).hexdigest(), 16) % 8 == 0:
            return "451 4.3.0 Temporary local problem, try again"
        return None

    smtp.refuse = refuse


def run_workers(app: Flask, settings: Settings, workers: int) -> None:
    """Rounds of concurrent workers, each round 7 hours later (past any backoff), until
    nothing is left to send."""
    now = NOON
    for _ in range(8):
        errors: list[BaseException] = []

        def work(moment: datetime = now, errors: list[BaseException] = errors) -> None:
            try:
                with app.app_context():
                    while sender.send_due_reminders(settings, now=moment, batch_size=20).due:
                        pass
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert not any(thread.is_alive() for thread in threads)
        left = db.session.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(Reminder.status.in_(("scheduled", "sending")))
        )
        db.session.rollback()
        if not left:
            return
        now += timedelta(hours=7)
    pytest.fail("reminders were left unsent after 8 rounds")


def check_exactly_once(smtp: SmtpSink, emails: list[str], workers: int) -> None:
    message_ids = Counter(str(m["Message-ID"]) for m in smtp.received)
    assert len(smtp.received) == len(emails)
    assert set(message_ids.values()) == {1}
    assert sorted(str(m["To"]) for m in smtp.received) == emails
    assert smtp.refused, "the server was meant to refuse some messages"
    db.session.rollback()  # a fresh read: see what the app committed
    statuses = Counter(db.session.scalars(select(Reminder.status)))
    assert statuses == {"sent": len(emails)}
    senders = set(db.session.scalars(select(Reminder.claimed_by).distinct()))
    assert "dead-worker" not in senders
    assert len(senders) >= min(workers, 2), "the workers were meant to share the work"


@pytest.mark.postgres_only
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="postgres_only: four concurrent writers claiming rows with FOR UPDATE SKIP LOCKED "
    "need PostgreSQL (SQLite has one writer; see the SQLite test below)",
)
def test_four_workers_deliver_a_thousand_reminders_exactly_once_on_postgresql(
    app: Flask, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    emails = add_due_reminders(1000)
    # A worker died holding a batch: its claim is stale by the first round.
    sender._claim(settings, NOON - timedelta(hours=1), "dead-worker", 25)
    refuse_some_first_tries(smtp)
    run_workers(app, settings, workers=4)
    check_exactly_once(smtp, emails, workers=4)


def test_concurrent_workers_on_sqlite_deliver_exactly_once(
    app: Flask, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    emails = add_due_reminders(150)
    sender._claim(settings, NOON - timedelta(hours=1), "dead-worker", 10)
    refuse_some_first_tries(smtp)
    run_workers(app, settings, workers=2)
    check_exactly_once(smtp, emails, workers=2)


def test_concurrent_sign_ups_for_one_email_leave_one_active_reminder(
    app: Flask, app_ctx: None
) -> None:
    settings = app.extensions["membership.settings"]
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def sign_up(day: str) -> None:
        try:
            with app.app_context():
                signup = service.parse_signup(
                    settings, {"email": "Same.Reader@example.org", "when": day}, TODAY
                )
                start.wait(timeout=10)
                service.schedule_reminder(signup)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    dates = [(TODAY + timedelta(days=n)).isoformat() for n in range(2, 8)]
    threads = [threading.Thread(target=sign_up, args=(day,)) for day in dates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    rows = db.session.execute(select(Reminder.email, Reminder.status, Reminder.due_at)).all()
    assert len(rows) == 1
    assert rows[0].email == "same.reader@example.org"
    assert rows[0].due_at.date().isoformat() in dates
