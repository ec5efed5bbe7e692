"""A gift first means no reminder; a gift through a reminder's link counts as converted.
Payments arrive as signed Stripe webhooks, as in production."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import click
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.config import Settings
from membership.extensions import db
from membership.models import CheckoutAttempt
from membership.reminders import sender
from membership.reminders.models import Reminder
from tests import stripe_events as se
from tests.conftest import post_checkout
from tests.fake_stripe import FakeStripe
from tests.reminders.conftest import NOON, SmtpSink, due_moment, make_reminder, with_smtp

AFTER_SIGN_UP = int(NOON.timestamp()) + 3600


def fresh(reminder: Reminder) -> Reminder:
    db.session.rollback()  # a fresh read: see what the app committed
    found = db.session.get(Reminder, reminder.id)
    assert found is not None
    return found


def deliver(client: FlaskClient, evt: dict) -> None:
    response = se.deliver(client, evt)
    assert response.status_code == 200, response.get_data(as_text=True)


def one_time_gift(email: str, created: int = AFTER_SIGN_UP, **extra: str) -> dict:
    session = se.checkout_session(
        mode="payment", amount=2500, email=email, payment_intent=f"pi_{created}_{email}", **extra
    )
    return se.event("checkout.session.completed", session, created=created)


def test_a_gift_before_the_due_day_means_no_email(
    client: FlaskClient, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder("reader@example.org")
    other = make_reminder("someone.else@example.org")
    deliver(client, one_time_gift("Reader@Example.org"))

    converted = fresh(reminder)
    assert converted.status == "converted"
    assert converted.converted_at is not None
    assert fresh(other).status == "scheduled"
    report = sender.send_due_reminders(settings, now=due_moment(reminder))
    assert report.sent == 1
    assert [m["To"] for m in smtp.received] == ["someone.else@example.org"]


def test_a_recurring_payment_suppresses_too(
    client: FlaskClient, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder("monthly.reader@example.org")
    invoice = se.invoice(
        invoice_id="in_suppress",
        subscription="sub_suppress",
        customer="cus_suppress",
        amount=500,
        email="monthly.reader@example.org",
        paid_at=AFTER_SIGN_UP,
    )
    deliver(client, se.event("invoice.paid", invoice, created=AFTER_SIGN_UP))
    assert fresh(reminder).status == "converted"
    assert sender.send_due_reminders(settings, now=due_moment(reminder)).sent == 0
    assert smtp.received == []


def test_a_gift_made_before_the_reader_asked_does_not_cancel_the_request(
    client: FlaskClient, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    reminder = make_reminder("reader@example.org")
    deliver(client, one_time_gift("reader@example.org", created=se.BASE_TIME))  # September
    assert fresh(reminder).status == "scheduled"
    assert sender.send_due_reminders(settings, now=due_moment(reminder)).sent == 1


def test_a_repeated_delivery_changes_nothing_more(client: FlaskClient, app_ctx: None) -> None:
    reminder = make_reminder("reader@example.org")
    gift = one_time_gift("reader@example.org")
    deliver(client, gift)
    converted_at = fresh(reminder).converted_at
    deliver(client, gift)
    assert fresh(reminder).converted_at == converted_at


def test_a_gift_through_the_reminder_link_is_attributed_to_it(
    client: FlaskClient, app_ctx: None, settings: Settings, smtp: SmtpSink, stripe: FakeStripe
) -> None:
    reminder = make_reminder("reader@example.org", frequency="once", amount="25", currency="USD")
    sender.send_due_reminders(settings, now=due_moment(reminder))
    assert fresh(reminder).status == "sent"

    # The reader follows the link, keeps the prefilled gift and presses Continue.
    response = post_checkout(
        client, frequency="once", currency="USD", amount="25", reminder=reminder.token
    )
    assert response.status_code == 303
    attempt = db.session.scalars(select(CheckoutAttempt)).one()
    assert attempt.reminder_id == reminder.id
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    # Stripe learns nothing of the reminder: neither its id nor the token (the key to its
    # cancel link), in the metadata or in the URLs.
    assert "reminder" not in str(call.params) and reminder.token not in str(call.params)
    # Coming back from Checkout's cancel page keeps the gift attributed to the reminder.
    back = client.get(call.params["cancel_url"].removeprefix("http://support.test"))
    assert f'name="reminder" value="{reminder.token}"' in back.get_data(as_text=True)

    # They pay with another address than the one the reminder went to.
    session = se.checkout_session(
        mode="payment",
        amount=2500,
        attempt_id=attempt.id,
        frequency="once",
        email="work.address@example.org",
        payment_intent="pi_through_reminder",
        session_id=attempt.stripe_session_id,
    )
    deliver(client, se.event("checkout.session.completed", session, created=AFTER_SIGN_UP))
    converted = fresh(reminder)
    assert converted.status == "converted"
    assert converted.sent_at is not None and converted.converted_at is not None


@pytest.mark.parametrize("invoice_first", [True, False], ids=["invoice-first", "checkout-first"])
def test_a_monthly_gift_through_the_reminder_link_is_attributed_to_it(
    client: FlaskClient,
    app_ctx: None,
    settings: Settings,
    smtp: SmtpSink,
    stripe: FakeStripe,
    invoice_first: bool,
) -> None:
    """Recurring gifts too, whatever order Stripe's events come in (their payment is the
    invoice's, which names no reminder: the paid checkout attempt does)."""
    reminder = make_reminder("reader@example.org", frequency="monthly", amount="5", currency="USD")
    sender.send_due_reminders(settings, now=due_moment(reminder))
    response = post_checkout(
        client, frequency="monthly", currency="USD", amount="5", reminder=reminder.token
    )
    assert response.status_code == 303
    attempt = db.session.scalars(select(CheckoutAttempt)).one()
    invoice = se.event(
        "invoice.paid",
        se.invoice(
            invoice_id="in_through_reminder",
            subscription="sub_through_reminder",
            customer="cus_through_reminder",
            amount=500,
            email="another.address@example.org",
            paid_at=AFTER_SIGN_UP,
            attempt_id=attempt.id,
            frequency="monthly",
        ),
        created=AFTER_SIGN_UP,
    )
    checkout = se.event(
        "checkout.session.completed",
        se.checkout_session(
            mode="subscription",
            amount=500,
            attempt_id=attempt.id,
            frequency="monthly",
            email="another.address@example.org",
            customer="cus_through_reminder",
            subscription="sub_through_reminder",
            session_id=attempt.stripe_session_id,
        ),
        created=AFTER_SIGN_UP + 1,
    )
    for evt in (invoice, checkout) if invoice_first else (checkout, invoice):
        deliver(client, evt)
    assert fresh(reminder).status == "converted"


def test_the_sources_page_counts_gifts_before_a_reminder_apart_from_conversions(
    client: FlaskClient, app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    """One reader gives before their reminder is due (it is never sent); the other's is
    sent and they do not give. Conversion of what was sent is 0%, not 100%."""
    from membership.reports.periods import Period
    from membership.reports.sources import sources_report

    page = "https://news.example/story"
    gives = make_reminder("gives@example.org", source=page)
    make_reminder("waits@example.org", source=page)
    deliver(client, one_time_gift("gives@example.org"))
    sender.send_due_reminders(settings, now=due_moment(gives))
    month = NOON.strftime("%Y-%m")
    [row] = sources_report(Period(month, month)).reminders
    assert (row.asked, row.sent, row.converted, row.gave_first) == (2, 1, 0, 1)
    assert row.conversion_percent == 0


def test_an_unknown_or_malformed_reminder_token_is_ignored_at_checkout(
    client: FlaskClient, app_ctx: None, stripe: FakeStripe
) -> None:
    for token in ("x" * 43, "<script>", "y" * 80):
        response = post_checkout(
            client, frequency="once", currency="USD", amount="25", reminder=token
        )
        assert response.status_code in (303, 400)
    attempts = db.session.scalars(select(CheckoutAttempt)).all()
    assert attempts and all(attempt.reminder_id is None for attempt in attempts)
    assert all(
        "reminder_id" not in c.params["metadata"]
        for c in stripe.calls("POST", "/v1/checkout/sessions")
    )


def test_a_support_page_visit_with_a_bad_token_does_not_carry_it(client: FlaskClient) -> None:
    page = client.get("/support?reminder=%3Cscript%3E").get_data(as_text=True)
    assert 'name="reminder"' not in page


def test_retention_erases_finished_reminders_emails_and_keeps_the_rows(
    app_ctx: None, settings: Settings, smtp: SmtpSink
) -> None:
    from membership.reminders import service

    sent = make_reminder("sent@example.org")
    cancelled = make_reminder("cancelled@example.org")
    scheduled = make_reminder("waiting@example.org", when="3m")
    sender.send_due_reminders(settings, now=due_moment(sent))
    service.cancel_reminder(cancelled.token, now=NOON)
    fresh(cancelled).updated_at = NOON  # cancelled on sign-up day
    db.session.commit()

    day_29 = due_moment(sent, timedelta(days=29))
    assert service.erase_old_emails(30, now=day_29) == 1  # only the cancel is 30 days old
    assert fresh(cancelled).email is None
    assert fresh(cancelled).email_erased_at == day_29
    assert fresh(sent).email == "sent@example.org"

    day_31 = due_moment(sent, timedelta(days=31))
    assert service.erase_old_emails(30, now=day_31) == 1
    erased = fresh(sent)
    assert (erased.email, erased.status, erased.sent_at) == (None, "sent", due_moment(sent))
    assert fresh(scheduled).email == "waiting@example.org"
    assert service.erase_old_emails(1, now=day_31) == 0  # scheduled ones are never erased


def test_retention_erases_even_when_reminders_cannot_be_sent(
    app: Flask, app_ctx: None, settings: Settings
) -> None:
    """Production without SMTP_URL refuses to send; the promised erasure still happens."""
    from membership.reminders import cli, service

    old = make_reminder("old@example.org")
    service.cancel_reminder(old.token, now=NOON)
    fresh(old).updated_at = NOON - timedelta(days=90)
    db.session.commit()
    as_configured = app.extensions["membership.settings"]
    production = with_smtp(dataclasses.replace(settings, env="production"), None)
    app.extensions["membership.settings"] = production
    try:
        with pytest.raises(click.ClickException, match="SMTP_URL.*erased 1 old email"):
            cli.run_once()
    finally:
        app.extensions["membership.settings"] = as_configured
    assert fresh(old).email is None
