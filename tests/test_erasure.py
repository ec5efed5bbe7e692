"""Erasure on schedule: the reminder worker forgets reminders' emails when due and event
payloads once a day, with no cron job, and what it erased is gone from the files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from membership import clock, erasure
from membership.extensions import db
from membership.models import Reminder, StripeEvent
from membership.webhooks.payloads import NO_PAYLOAD
from tests import stripe_events as se
from tests.conftest import ON_POSTGRES

CANARY = "canary-reminder-51c2@example.org"


def an_old_event(client: FlaskClient) -> str:
    evt = se.event("customer.updated", se.customer(customer_id="cus_old", email="x@example.org"))
    assert se.deliver(client, evt).status_code == 200
    db.session.execute(
        update(StripeEvent)
        .where(StripeEvent.id == evt["id"])
        .values(received_at=clock.now() - timedelta(days=31))
    )
    db.session.commit()
    return str(evt["id"])


def payload_of(event_id: str) -> str:
    db.session.expire_all()
    return db.session.scalars(select(StripeEvent.payload).where(StripeEvent.id == event_id)).one()


def test_payloads_are_forgotten_once_a_day_by_the_worker(
    client: FlaskClient, app_ctx: None
) -> None:
    schedule, now = erasure.Schedule(), clock.now()
    first = an_old_event(client)
    erasure.erase_due(30, schedule, now=now)
    assert payload_of(first) == NO_PAYLOAD
    second = an_old_event(client)
    erasure.erase_due(30, schedule, now=now + timedelta(hours=23))
    assert payload_of(second) != NO_PAYLOAD  # not twice in one day
    erasure.erase_due(30, schedule, now=now + timedelta(days=1))
    assert payload_of(second) == NO_PAYLOAD


def test_an_erased_reminder_email_is_gone_from_the_files(app_ctx: None, database_url: str) -> None:
    old = clock.now() - timedelta(days=400)
    reminder = Reminder(
        token="t-canary",
        email=CANARY,
        due_at=old,
        status="sent",
        attempts=1,
        created_at=old,
        updated_at=old,
        sent_at=old,
    )
    db.session.add(reminder)
    db.session.commit()
    files = [] if ON_POSTGRES else _files_of(database_url)
    assert any(CANARY.encode() in path.read_bytes() for path in files) or ON_POSTGRES
    assert erasure.erase_due(30, erasure.Schedule()) == 1
    db.session.remove()
    assert db.session.scalars(select(Reminder.email)).all() == [None]
    # On PostgreSQL the dead rows are vacuumed: tests/webhooks/test_erasure.py checks that.
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path.name


def _files_of(database_url: str) -> list[Path]:
    database = Path(str(make_url(database_url).database))
    return [path for path in (database, Path(f"{database}-wal")) if path.exists()]
