"""Thanks and a receipt after a first gift and after each renewal: once per payment,
with the amount, the date, the newsroom's name and RECEIPT_TEXT, unless Stripe sends
receipts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from membership.account.erasure import erase_supporter
from membership.config import ConfigError, load_settings
from membership.extensions import db
from membership.ledger.models import Payment, Supporter
from membership.notices.models import NoticeKind, NoticeStatus
from membership.notices.sender import RETRY_WAITING, WAIT_FOR_SUPPORTER
from tests.conftest import app_environ
from tests.fake_stripe import FakeStripe
from tests.notices.conftest import NOW, html_of, notices, squeeze, text_of
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import BASE_TIME, checkout_session, customer, invoice

READER = "reader@example.org"


def one_time_gift(post: Callable[..., Any], amount: int = 2500, pi: str = "pi_gift_1") -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=amount, customer="cus_r1", payment_intent=pi),
    )


def test_a_one_time_gift_gets_one_receipt_however_often_stripe_says_so(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink, use_settings: Any
) -> None:
    use_settings(receipt_text="Newsroom Ltd, charity no. 12345. No goods were given in return.")
    one_time_gift(post)
    one_time_gift(post)  # Stripe redelivers
    assert send().sent == 1
    one_time_gift(post)
    assert send().sent == 0

    (message,) = smtp.messages_to(READER)
    text = squeeze(text_of(message))
    assert "$25.00" in text
    assert "September 21, 2026" in text
    assert "charity no. 12345" in text
    assert "http://support.test/account" in text
    assert "Thank you for your gift" in text
    assert "$25.00" in html_of(message)
    assert message["Auto-Submitted"] == "auto-generated"
    (notice,) = notices(app)
    assert notice.kind == NoticeKind.RECEIPT and notice.status == NoticeStatus.SENT


def test_a_first_invoice_and_each_renewal_get_their_own_receipt(
    post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    first = invoice(
        invoice_id="in_first",
        subscription="sub_r",
        customer="cus_r",
        amount=500,
        paid_at=BASE_TIME,
        billing_reason="subscription_create",
    )
    renewal = invoice(
        invoice_id="in_second",
        subscription="sub_r",
        customer="cus_r",
        amount=500,
        paid_at=BASE_TIME + 60,
    )
    for obj in (first, renewal, first, renewal):
        post("invoice.paid", obj)
    assert send().sent == 2
    texts = [squeeze(text_of(m)) for m in smtp.messages_to(READER)]
    assert sum("Thank you for your gift" in t for t in texts) == 1
    assert sum("has renewed" in t for t in texts) == 1
    assert all("$5.00" in t and "A recurring gift" in t for t in texts)
    # Each attempt at one notice carries the same Message-ID; two notices, two IDs.
    assert len({m["Message-ID"] for m in smtp.received}) == 2


def test_no_receipt_when_stripe_sends_them(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink, use_settings: Any
) -> None:
    use_settings(stripe_sends_receipts=True)
    one_time_gift(post)
    assert send().sent == 0
    assert smtp.received == [] and notices(app) == []


def test_a_receipt_queued_before_stripe_took_over_is_not_sent(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink, use_settings: Any
) -> None:
    one_time_gift(post)
    use_settings(stripe_sends_receipts=True)
    send()
    assert smtp.received == []
    assert [n.status for n in notices(app)] == [NoticeStatus.DROPPED]


def test_an_old_payment_replayed_is_history_not_news(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=900, customer="cus_old", payment_intent="pi_old"),
        created=BASE_TIME - 30 * 86400,
    )
    send()
    assert smtp.received == [] and notices(app) == []


def test_an_erased_supporter_gets_nothing(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    one_time_gift(post)
    with app.app_context():  # as erasure does: the supporter goes, payments keep amounts
        supporter = db.session.scalar(db.select(Supporter))
        db.session.execute(db.update(Payment).values(supporter_id=None))
        db.session.delete(supporter)
        db.session.commit()
    assert send().sent == 0
    assert smtp.received == []


def test_a_supporter_erased_at_their_request_is_never_written_to(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    stripe: FakeStripe,
    clock: Callable[[datetime], None],
) -> None:
    one_time_gift(post)
    with app.app_context():
        supporter = db.session.scalar(db.select(Supporter))
        assert supporter is not None
        erase_supporter(app.extensions["membership.settings"], supporter)
    assert send().sent == 0
    clock(NOW + WAIT_FOR_SUPPORTER + timedelta(minutes=1))  # it waited for a supporter, in vain
    send()
    assert smtp.received == []
    # Erasure deletes what was owed to them; whatever is left was never sent.
    assert all(n.status != NoticeStatus.SENT and n.sent_at is None for n in notices(app))


def test_the_supporters_current_address_is_used(
    post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    one_time_gift(post)
    post(
        "customer.updated",
        customer(customer_id="cus_r1", email="new@example.org"),
        created=BASE_TIME + 60,
    )
    assert send().sent == 1
    assert [m["To"] for m in smtp.received] == ["new@example.org"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ""), ("Newsroom Ltd\\nReg. 123", "Newsroom Ltd\nReg. 123"), ("  x  ", "x")],
    ids=["unset", "new-line", "trimmed"],
)
def test_receipt_text_is_read_from_the_environment(
    database_url: str, raw: str, expected: str
) -> None:
    assert load_settings(app_environ(database_url, RECEIPT_TEXT=raw)).receipt_text == expected


def test_a_receipt_text_too_long_stops_the_app_with_a_sentence(database_url: str) -> None:
    with pytest.raises(ConfigError, match="RECEIPT_TEXT"):
        load_settings(app_environ(database_url, RECEIPT_TEXT="x" * 5000))


def test_stripe_sends_receipts_must_be_a_flag(database_url: str) -> None:
    with pytest.raises(ConfigError, match="STRIPE_SENDS_RECEIPTS"):
        load_settings(app_environ(database_url, STRIPE_SENDS_RECEIPTS="sometimes"))


def test_a_receipt_carries_the_newsrooms_header_and_signature_as_every_email_does(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink, use_settings: Any
) -> None:
    original = app.extensions["membership.settings"]
    use_settings(
        identity=dataclasses.replace(
            original.identity,
            publication_name="The Free Ledger",
            site_url="https://ledger.example",
            privacy_policy_url="https://ledger.example/privacy",
        )
    )
    one_time_gift(post)
    assert send().sent == 1
    (message,) = smtp.messages_to(READER)
    text, html = text_of(message).replace("\r\n", "\n"), html_of(message)
    assert text.startswith("The Free Ledger\nhttps://ledger.example\n")
    assert "\n-- \n" in text and "Privacy policy: https://ledger.example/privacy" in text
    assert '<a href="https://ledger.example" style="color: #1a1a1a;' in html
    assert '<a href="https://ledger.example/privacy">Privacy policy</a>' in html


def test_a_payment_whose_giver_is_known_later_gets_its_receipt_then(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[[datetime], None],
) -> None:
    """Events arrive in any order: an invoice paid by a customer nobody has named yet is
    stored without a supporter; its receipt waits, and goes once the customer is known."""
    post(
        "invoice.paid",
        invoice(
            invoice_id="in_early",
            subscription="sub_late",
            customer="cus_late",
            amount=700,
            paid_at=BASE_TIME,
            billing_reason="subscription_create",
            email=None,
        ),
    )
    with app.app_context():
        (payment,) = db.session.scalars(db.select(Payment)).all()
        assert payment.supporter_id is None
    assert send().sent == 0  # waiting for a supporter
    post(
        "checkout.session.completed",
        checkout_session(
            mode="subscription", amount=700, customer="cus_late", subscription="sub_late"
        ),
    )
    assert send().sent == 0  # not asked again before its retry
    clock(NOW + RETRY_WAITING + timedelta(minutes=1))
    assert send().sent == 1
    (message,) = smtp.messages_to(READER)
    assert "$7.00" in squeeze(text_of(message))
    assert send().sent == 0
