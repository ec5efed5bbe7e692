"""Several senders at once, one of them dead with a claim, the server refusing some first
tries: every owed notice reaches its supporter exactly once."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import func, select

from membership.config import Settings
from membership.extensions import db
from membership.ledger.models import Payment, Supporter
from membership.notices import sender
from membership.notices.models import Notice, NoticeKind
from tests.conftest import ON_POSTGRES
from tests.notices.conftest import EVENT_TIME, NOW
from tests.reminders.conftest import SmtpSink, with_smtp

WORKERS = 4 if ON_POSTGRES else 2


def owe_receipts(count: int) -> list[str]:
    emails = [f"giver{n:03d}@example.org" for n in range(count)]
    for n, email in enumerate(emails):
        supporter = Supporter(email=email, stripe_customer_id=f"cus_{n}")
        db.session.add(supporter)
        db.session.flush()
        payment = Payment(
            supporter_id=supporter.id,
            stripe_payment_intent_id=f"pi_{n}",
            amount_minor=1000 + n,
            currency="EUR",
            frequency="once",
            paid_at=EVENT_TIME,
        )
        db.session.add(payment)
        db.session.flush()
        db.session.add(
            Notice(
                kind=NoticeKind.RECEIPT,
                key=f"receipt:{payment.id}",
                supporter_id=supporter.id,
                payment_id=payment.id,
            )
        )
    db.session.commit()
    return emails


def refuse_some_first_tries(smtp: SmtpSink) -> None:
    seen: set[str] = set()
    lock = threading.Lock()

    def refuse(message: EmailMessage) -> str | None:
        message_id = str(message["Message-ID"])
        with lock:
            first = message_id not in seen
            seen.add(message_id)
        if first and int(hashlib.sha256(message_id.encode()).hexdigest(), 16) % 5 == 0:
            return "451 4.3.0 Temporary local problem, try again"
        return None

    smtp.refuse = refuse


def run_rounds(app: Flask, settings: Settings) -> None:
    """Rounds of concurrent senders, each 7 hours later (past any back-off)."""
    moment = NOW
    for _ in range(6):
        errors: list[BaseException] = []

        def work(at: datetime = moment, errors: list[BaseException] = errors) -> None:
            try:
                with app.app_context():
                    sender.send_due_notices(settings, now=at)
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        open_notices = db.session.scalar(
            select(func.count()).select_from(Notice).where(Notice.status.in_(("queued", "sending")))
        )
        db.session.rollback()
        if not open_notices:
            return
        moment += timedelta(hours=7)
    raise AssertionError("notices were left unsent")


def test_concurrent_senders_send_each_notice_exactly_once(
    app: Flask, app_ctx: None, smtp: SmtpSink
) -> None:
    settings = with_smtp(app.extensions["membership.settings"], smtp.url)
    emails = owe_receipts(60)
    # A sender died holding a batch: its claim is stale by the first round.
    sender._claim(settings, NOW - timedelta(hours=1), "dead-worker", 10)
    refuse_some_first_tries(smtp)
    run_rounds(app, settings)

    assert smtp.refused, "the server was meant to refuse some messages"
    assert set(Counter(str(m["Message-ID"]) for m in smtp.received).values()) == {1}
    assert sorted(str(m["To"]) for m in smtp.received) == emails
    db.session.rollback()
    assert Counter(db.session.scalars(select(Notice.status))) == {"sent": len(emails)}
