"""A property: whatever the order, duplication and sender runs in between, a failed
invoice's supporter gets at most one email per failed attempt, none for an attempt that
was not the latest known when sent, and none sent after the invoice's payment arrived."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from membership.extensions import db
from membership.mail import message_id_for
from membership.notices.models import Notice, NoticeKind
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import BASE_TIME, invoice

_invoices = itertools.count(1)
# One step: a failed attempt (1 to 3) delivered, the invoice's payment delivered, or a run
# of the sender.
STEPS = st.lists(
    st.sampled_from(["fail1", "fail2", "fail3", "paid", "send"]), min_size=1, max_size=9
)


def _event(step: str, invoice_id: str) -> tuple[str, dict[str, Any], int]:
    subscription, customer = f"sub_{invoice_id}", f"cus_{invoice_id}"
    if step == "paid":
        obj = invoice(
            invoice_id=invoice_id,
            subscription=subscription,
            customer=customer,
            amount=800,
            paid_at=BASE_TIME + 100,
        )
        return "invoice.paid", obj, BASE_TIME + 100
    attempt = int(step[-1])
    obj = invoice(
        invoice_id=invoice_id,
        subscription=subscription,
        customer=customer,
        amount=800,
        status="open",
        attempt_count=attempt,
    )
    return "invoice.payment_failed", obj, BASE_TIME + attempt


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=STEPS)
# The orders that matter most, always tried: paid after a queued failure, a later attempt
# queued behind an earlier one, an old attempt delivered late, a failure after the payment.
@example(steps=["fail1", "paid"])
@example(steps=["fail1", "fail2", "send", "fail1"])
@example(steps=["fail2", "fail1"])
@example(steps=["fail1", "send", "fail2", "paid", "fail2"])
@example(steps=["paid", "fail1"])
def test_failed_payment_emails_whatever_the_order(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    steps: list[str],
) -> None:
    invoice_id = f"in_prop{next(_invoices)}"
    sender_address = app.extensions["membership.settings"].reminders.mail_from

    def message_id(attempt: int) -> str:
        key = f"{NoticeKind.PAYMENT_FAILED}:{invoice_id}:{attempt}"
        return message_id_for("notice", key, sender_address)

    emailed: dict[int, int] = {}  # attempt -> how many emails so far
    paid = False
    highest = 0  # the latest attempt delivered
    for step in [*steps, "send"]:
        if step == "send":
            before = len(smtp.received)
            send()
            new = [str(m["Message-ID"]) for m in smtp.received[before:]]
            for attempt in (1, 2, 3):
                count = new.count(message_id(attempt))
                if count:
                    assert not paid, "a failed-payment email went out after the payment"
                    assert attempt == highest, "an email for an attempt already superseded"
                    emailed[attempt] = emailed.get(attempt, 0) + count
            continue
        event_type, obj, created = _event(step, invoice_id)
        post(event_type, obj, created=created)
        if step == "paid":
            paid = True
        else:
            highest = max(highest, int(step[-1]))
    assert all(count == 1 for count in emailed.values())
    if highest and not paid:
        assert emailed.get(highest) == 1, "the latest failed attempt was never told"
    with app.app_context():
        keys = db.session.scalars(
            db.select(Notice.key).where(Notice.key.like(f"%:{invoice_id}:%"))
        ).all()
    assert len(keys) == len(set(keys)) <= 3
