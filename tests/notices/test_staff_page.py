"""Staff see on a supporter's page which emails about their support were sent, and when:
the kind and the dates, never the contents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from membership.extensions import db
from membership.ledger.models import Supporter
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import checkout_session, invoice


def test_the_supporter_page_lists_the_emails_sent_without_their_contents(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[[datetime], None],
    signed_in_client: Callable[..., Any],
) -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=4200, customer="cus_s", payment_intent="pi_s"),
    )
    failed = invoice(
        invoice_id="in_s", subscription="sub_s", customer="cus_s", amount=1300, status="open"
    )
    post("invoice.payment_failed", failed)
    assert send().sent == 2
    clock(datetime.now(UTC))  # staff sign in (with their two-step code) at the real time
    with app.app_context():
        supporter_id = db.session.scalar(db.select(Supporter.id))
    page = signed_in_client("care").get(f"/staff/supporters/{supporter_id}")
    text = page.get_data(as_text=True)
    section = text[text.index("Emails about their support") :]
    assert "Thanks and receipt" in section and "Payment failed" in section
    assert "2026-09-21" in section  # when they were sent
    assert "$42.00" not in section and "could not collect" not in text
