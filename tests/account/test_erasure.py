"""Erasure at the supporter's request: confirmed twice on their page, or by staff from the
command line (audited). Their gifts stop and their Stripe customer goes; their email goes
from every table that held it, and the money stays; a late webhook about that customer
writes nothing of theirs back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

from membership.account.models import SignInLink, SupportChange
from membership.extensions import db
from membership.ledger.erased import ErasedCustomer, customer_key
from membership.ledger.models import (
    Payment,
    PendingCustomerEmail,
    RecurringSupport,
    SupersededEmail,
    Supporter,
)
from membership.newsletter.models import Subscriber
from membership.notices.models import Notice
from membership.reminders.models import Reminder
from membership.staff.models import AuditEntry
from membership.webhooks.models import StripeEvent
from tests import stripe_events as se
from tests.account.conftest import NOON, page_csrf
from tests.conftest import ON_POSTGRES
from tests.fake_stripe import FakeStripe

EMAIL = "reader@example.org"
FORMER = "old.reader@example.org"


@pytest.fixture
def reader(
    app: Flask,
    make_supporter: Callable[..., int],
    make_gift: Callable[..., int],
    make_recurring: Callable[..., int],
    stripe: FakeStripe,
) -> dict[str, Any]:
    """A reader who gives monthly and gave once, asked for a reminder, reads the
    newsletter, changed their address once, and whose events are stored; and someone
    else, who must keep everything."""
    reader_id = make_supporter(EMAIL, customer="cus_reader")
    other_id = make_supporter("other@example.org", customer="cus_other")
    stripe.add_subscription("sub_reader", "cus_reader")
    recurring = make_recurring(reader_id, "cus_reader", "sub_reader")
    ended = make_recurring(reader_id, "cus_reader", "sub_ended", status="canceled")
    payment = make_gift(reader_id, 2500, stripe_customer_id="cus_reader")
    make_gift(other_id, 4000)
    client = app.test_client()
    for obj in (
        se.customer(customer_id="cus_reader", email="Reader@Example.org"),
        se.customer(customer_id="cus_other", email="other@example.org"),
    ):
        assert (
            se.deliver(client, se.event("customer.updated", obj, created=se.BASE_TIME)).status_code
            == 200
        )
    with app.app_context():
        db.session.add_all(
            [
                Reminder(email=EMAIL, token="tok-reader", due_at=NOON, status="scheduled"),
                Reminder(email=FORMER, token="tok-former", due_at=NOON, status="sent"),
                Reminder(email="other@example.org", token="tok-other", due_at=NOON),
                Subscriber(
                    email=EMAIL,
                    status="confirmed",
                    language="en",
                    consented_at=NOON,
                    consent_wording="Yes, send me the newsletter",
                ),
                Subscriber(
                    email="other@example.org", status="confirmed", language="en", consented_at=NOON
                ),
                SupersededEmail(email=FORMER, supporter_id=reader_id, superseded_at=NOON),
                PendingCustomerEmail(stripe_customer_id="cus_reader", email=EMAIL, as_of=NOON),
                SupportChange(recurring_support_id=recurring, kind="amount", amount_minor=700),
                Notice(kind="receipt", key="receipt:reader", supporter_id=reader_id),
            ]
        )
        db.session.commit()
    return {"id": reader_id, "recurring": recurring, "ended": ended, "payment": payment}


def every_text_in_the_database(app: Flask) -> str:
    """Every value of every row of every table, as one text: where an email could hide."""
    with app.app_context():
        db.session.rollback()
        values = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                values.extend(str(value) for value in row)
        return "\n".join(values).lower()


def erase_from_the_page(client: FlaskClient) -> Any:
    page = client.get("/account/erase")
    assert page.status_code == 200
    assert 'name="confirm"' in page.get_data(as_text=True)
    token = page_csrf(client, "/account/erase")
    return client.post("/account/erase", data={"csrf_token": token, "confirm": "y"})


def test_erasing_from_the_page_forgets_the_reader_everywhere_and_keeps_the_money(
    app: Flask, reader: dict[str, Any], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in(EMAIL)
    response = erase_from_the_page(client)
    assert response.status_code == 303 and response.headers["Location"] == "/account/erased"

    # Stripe: the running gift cancelled at once (not the ended one), the customer deleted.
    assert [c.path for c in stripe.calls("DELETE", "/v1/subscriptions/")] == [
        "/v1/subscriptions/sub_reader"
    ]
    assert stripe.deleted_customers == ["cus_reader"]

    everything = every_text_in_the_database(app)
    assert EMAIL not in everything and FORMER not in everything
    assert "other@example.org" in everything  # someone else's data is untouched
    with app.app_context():
        assert db.session.get(Supporter, reader["id"]) is None
        payment = db.session.get(Payment, reader["payment"])
        assert payment is not None
        assert (payment.amount_minor, payment.currency, payment.paid_at) == (2500, "USD", NOON)
        assert payment.supporter_id is None
        recurring = db.session.get(RecurringSupport, reader["recurring"])
        assert recurring is not None and recurring.supporter_id is None
        assert recurring.amount_minor == 500
        reminders = db.session.scalars(select(Reminder).order_by(Reminder.token)).all()
        assert [(r.token, r.email is None) for r in reminders] == [
            ("tok-former", True),
            ("tok-other", False),
            ("tok-reader", True),
        ]
        statuses = sorted((s.status, s.email) for s in db.session.scalars(select(Subscriber)))
        assert statuses == [("confirmed", "other@example.org"), ("unsubscribed", None)]
        assert db.session.scalars(select(SignInLink)).all() == []
        assert db.session.scalars(select(Notice)).all() == []  # no email goes to them now
        assert db.session.scalars(select(PendingCustomerEmail)).all() == []
        payloads = {e.payload for e in db.session.scalars(select(StripeEvent))}
        assert "{}" in payloads and any("cus_other" in p for p in payloads)
        assert not any("cus_reader" in p for p in payloads)
        (tombstone,) = db.session.scalars(select(ErasedCustomer)).all()
        assert tombstone.customer_key == customer_key("cus_reader", app.config["SECRET_KEY"])
        assert "cus_reader" not in tombstone.customer_key
    # Signed out: the page asks for an email again.
    assert 'name="email"' in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    "late",
    [
        lambda: se.customer(customer_id="cus_reader", email="Reader@Example.org"),
        lambda: se.invoice(
            invoice_id="in_late",
            subscription="sub_reader",
            customer="cus_reader",
            amount=500,
            email="Reader@Example.org",
            paid_at=se.BASE_TIME + 7200,
        ),
    ],
    ids=["customer.updated", "invoice.paid"],
)
def test_a_late_webhook_about_the_erased_customer_writes_no_email_back(
    app: Flask,
    reader: dict[str, Any],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    late: Callable[[], dict[str, Any]],
) -> None:
    assert erase_from_the_page(signed_in(EMAIL)).status_code == 303
    obj = late()
    event_type = "customer.updated" if obj["object"] == "customer" else "invoice.paid"
    event = se.event(event_type, obj, created=se.BASE_TIME + 7200)
    response = se.deliver(app.test_client(), event)
    assert response.status_code == 200
    assert EMAIL not in every_text_in_the_database(app)
    with app.app_context():
        stored = db.session.get(StripeEvent, event["id"])
        assert stored is not None and stored.status == "processed" and stored.payload == "{}"
        assert db.session.scalars(select(Supporter.email)).all() == ["other@example.org"]
        if event_type == "invoice.paid":  # the money is recorded, nobody's
            late_payment = db.session.scalars(
                select(Payment).where(Payment.stripe_invoice_id == "in_late")
            ).one()
            assert (late_payment.amount_minor, late_payment.supporter_id) == (500, None)


def test_a_late_webhook_about_someone_else_still_records_their_email(
    app: Flask, reader: dict[str, Any], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    assert erase_from_the_page(signed_in(EMAIL)).status_code == 303
    obj = se.customer(customer_id="cus_other", email="other.new@example.org")
    event = se.event("customer.updated", obj, created=se.BASE_TIME + 7200)
    assert se.deliver(app.test_client(), event).status_code == 200
    with app.app_context():
        assert db.session.scalars(select(Supporter.email)).all() == ["other.new@example.org"]
        stored = db.session.get(StripeEvent, event["id"])
        assert stored is not None and "other.new@example.org" in stored.payload


def test_without_the_second_confirmation_nothing_is_erased(
    app: Flask, reader: dict[str, Any], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in(EMAIL)
    before = every_text_in_the_database(app)
    token = page_csrf(client, "/account/erase")
    response = client.post("/account/erase", data={"csrf_token": token})
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert client.post("/account/erase", data={"confirm": "y"}).status_code == 400  # no CSRF
    assert stripe.requests == []
    assert every_text_in_the_database(app) == before


def test_when_stripe_cannot_answer_nothing_is_erased(
    app: Flask, reader: dict[str, Any], signed_in: Callable[[str], FlaskClient], stripe: FakeStripe
) -> None:
    client = signed_in(EMAIL)
    stripe.fail_with, stripe.fail_path = 500, "/v1/customers/"
    before = every_text_in_the_database(app)
    response = erase_from_the_page(client)
    assert response.status_code == 503
    with app.app_context():
        assert db.session.get(Supporter, reader["id"]) is not None
        assert db.session.scalars(select(ErasedCustomer)).all() == []
    assert EMAIL in every_text_in_the_database(app)
    assert every_text_in_the_database(app).count(EMAIL) == before.count(EMAIL)


def test_signed_out_the_erase_pages_send_to_sign_in(app: Flask, reader: dict[str, Any]) -> None:
    client = app.test_client()
    assert client.get("/account/erase").headers["Location"] == "/account"
    token = page_csrf(client)
    response = client.post("/account/erase", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert EMAIL in every_text_in_the_database(app)


# -- staff: flask supporters erase ---------------------------------------------------------


def test_staff_erase_from_the_command_line_is_audited(
    app: Flask, reader: dict[str, Any], stripe: FakeStripe, staff_user: Callable[..., Any]
) -> None:
    staff = staff_user(role="admin")
    result = app.test_cli_runner().invoke(
        args=["supporters", "erase", "  READER@example.org ", "--by", staff.email, "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert f"erased supporter {reader['id']}" in result.output
    assert stripe.deleted_customers == ["cus_reader"]
    assert EMAIL not in every_text_in_the_database(app)
    with app.app_context():
        (entry,) = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "erase_supporter")
        ).all()
        assert (entry.staff_email, entry.target, entry.detail) == (
            staff.email,
            str(reader["id"]),
            "erased",
        )


@pytest.mark.parametrize(
    ("email", "by", "message"),
    [
        ("nobody@example.org", "STAFF", "no supporter has that email"),
        (EMAIL, "not-staff@example.org", "no active staff account has that email"),
    ],
    ids=["unknown-supporter", "unknown-staff"],
)
def test_staff_erase_refuses_what_it_cannot_do_and_erases_nothing(
    app: Flask,
    reader: dict[str, Any],
    stripe: FakeStripe,
    staff_user: Callable[..., Any],
    email: str,
    by: str,
    message: str,
) -> None:
    staff = staff_user(role="admin")
    by = staff.email if by == "STAFF" else by
    result = app.test_cli_runner().invoke(args=["supporters", "erase", email, "--by", by, "--yes"])
    assert result.exit_code != 0 and message in result.output
    assert stripe.requests == []
    assert EMAIL in every_text_in_the_database(app)


def test_a_tombstone_made_under_a_retired_key_is_still_recognised(
    app: Flask, reader: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a SECRET_KEY rotation (the old key kept in SECRET_KEY_FALLBACKS) an erased
    customer stays erased, and their tombstone moves to the new key."""
    old_key = app.config["SECRET_KEY"]
    with app.app_context():
        db.session.add(
            ErasedCustomer(
                customer_key=customer_key("cus_gone", old_key),
                erased_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        db.session.commit()
    monkeypatch.setitem(app.config, "SECRET_KEY", "a-new-key-" + "x" * 40)
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [old_key])
    obj = se.customer(customer_id="cus_gone", email="gone@example.org")
    event = se.event("customer.updated", obj, created=se.BASE_TIME + 60)
    assert se.deliver(app.test_client(), event).status_code == 200
    assert "gone@example.org" not in every_text_in_the_database(app)
    with app.app_context():
        keys = set(db.session.scalars(select(ErasedCustomer.customer_key)))
        assert customer_key("cus_gone", "a-new-key-" + "x" * 40) in keys


def test_the_erased_address_is_gone_from_the_database_files(
    app: Flask,
    reader: dict[str, Any],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    database_url: str,
) -> None:
    """Not only from the rows: SQLite's freed pages and its WAL are scrubbed too. (On
    PostgreSQL the tables are vacuumed; tests/webhooks/test_erasure.py shows VACUUM's
    effect there.)"""
    database = Path(str(make_url(database_url).database))
    files = (
        [p for p in (database, Path(f"{database}-wal")) if p.exists()] if not ON_POSTGRES else []
    )
    spellings = [EMAIL.encode(), b"Reader@Example.org", FORMER.encode()]
    if files:
        assert any(s in path.read_bytes() for path in files for s in spellings)
    assert erase_from_the_page(signed_in(EMAIL)).status_code == 303
    with app.app_context():
        db.session.remove()
    for path in files:
        content = path.read_bytes()
        for spelling in spellings:
            assert spelling not in content, (path.name, spelling)
