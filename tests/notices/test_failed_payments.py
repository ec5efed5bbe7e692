"""A failed payment: one email per failed attempt at most, with the way to update the
card, under duplicated and shuffled events; none once the invoice is paid."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from membership.notices.models import NoticeStatus
from membership.notices.service import FAILURE_GRACE
from tests.notices.conftest import NOW, notices, squeeze, text_of
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import BASE_TIME, invoice

READER = "reader@example.org"


def failed(attempt: int, invoice_id: str = "in_due") -> dict[str, Any]:
    return invoice(
        invoice_id=invoice_id,
        subscription="sub_due",
        customer="cus_due",
        amount=1000,
        status="open",
        attempt_count=attempt,
    )


def paid(invoice_id: str = "in_due") -> dict[str, Any]:
    return invoice(
        invoice_id=invoice_id,
        subscription="sub_due",
        customer="cus_due",
        amount=1000,
        paid_at=BASE_TIME + 3 * 86400,
    )


def test_a_failed_attempt_gets_one_email_with_the_way_to_update_the_card(
    post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    post("invoice.payment_failed", failed(1))
    post("invoice.payment_failed", failed(1))
    assert send().sent == 1
    post("invoice.payment_failed", failed(1))
    assert send().sent == 0
    (message,) = smtp.messages_to(READER)
    text = squeeze(text_of(message))
    assert "$10.00" in text and "could not collect" in text
    assert "update it here" in text and "http://support.test/account" in text


def test_each_new_attempt_gets_its_own_email(
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[[datetime], None],
) -> None:
    post("invoice.payment_failed", failed(1), created=BASE_TIME)
    assert send().sent == 1
    post("invoice.payment_failed", failed(2), created=BASE_TIME + 86400)
    clock(NOW + timedelta(days=1))
    assert send().sent == 1
    assert len(smtp.messages_to(READER)) == 2
    assert len({m["Message-ID"] for m in smtp.received}) == 2


# Shuffled and duplicated: each order of two attempts' events, each delivered twice, and
# the sender run after some of them.
ORDERS = [random.Random(seed).sample([1, 1, 2, 2, 0, 0], 6) for seed in range(8)]


@pytest.mark.parametrize("order", ORDERS, ids=lambda order: "-".join(map(str, order)))
def test_duplicated_and_shuffled_events_send_at_most_one_email_per_attempt(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink, order: list[int]
) -> None:
    for attempt in order:  # 0 is a run of the sender between deliveries
        if attempt:
            post("invoice.payment_failed", failed(attempt), created=BASE_TIME + attempt)
        else:
            send()
    send()
    sent = [m["Message-ID"] for m in smtp.messages_to(READER)]
    assert len(sent) == len(set(sent)) <= 2
    by_attempt = {n.key: n.status for n in notices(app)}
    assert set(by_attempt) <= {"payment_failed:in_due:1", "payment_failed:in_due:2"}
    assert list(by_attempt.values()).count(NoticeStatus.SENT) == len(sent)
    # The latest attempt is always told; the first only when it was sent before the second
    # was known.
    assert by_attempt.get("payment_failed:in_due:2") == NoticeStatus.SENT


def test_a_card_refused_in_checkout_and_replaced_at_once_gets_no_email(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[[datetime], None],
) -> None:
    """The failure waits FAILURE_GRACE: the reader's next card, paid meanwhile, moots it."""
    refused_at = NOW - timedelta(minutes=5)
    post("invoice.payment_failed", failed(1), created=int(refused_at.timestamp()))
    assert send().due == 0
    post("invoice.paid", paid())
    clock(refused_at + FAILURE_GRACE + timedelta(seconds=1))
    send()
    assert [m["Subject"] for m in smtp.messages_to(READER)] == [
        "Thank you: your receipt from Our newsroom"
    ]
    statuses = {n.kind: n.status for n in notices(app)}
    assert statuses["payment_failed"] == NoticeStatus.DROPPED


def test_no_email_once_the_invoice_is_paid_even_if_it_was_queued(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    post("invoice.payment_failed", failed(1))
    post("invoice.paid", paid())
    send()
    assert [m["Subject"] for m in smtp.messages_to(READER)] == [
        "Thank you: your receipt from Our newsroom"
    ]
    statuses = {n.kind: (n.status, n.last_error) for n in notices(app)}
    assert statuses["payment_failed"] == (NoticeStatus.DROPPED, "the invoice was paid")


def test_a_failure_delivered_after_the_payment_owes_nothing(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    post("invoice.paid", paid())
    post("invoice.payment_failed", failed(1))
    send()
    assert [n.kind for n in notices(app)] == ["receipt"]
    assert len(smtp.messages_to(READER)) == 1
