"""The sender's promises: a refusal is retried after the reminders' back-off with the same
Message-ID, a permanent one fails the notice, an unreachable server loses nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask

from membership.notices import sender
from membership.notices.models import NoticeStatus
from membership.reminders.sender import backoff
from tests.notices.conftest import NOW, notices
from tests.reminders.conftest import SmtpSink, free_port, with_smtp
from tests.stripe_events import checkout_session

READER = "reader@example.org"


def gift(post: Callable[..., Any]) -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=1200, customer="cus_t", payment_intent="pi_t"),
    )


def test_a_temporary_refusal_is_retried_after_the_back_off_with_the_same_message_id(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[..., None],
) -> None:
    gift(post)
    smtp.refuse = lambda message: "451 4.3.0 try again later"
    assert send().retrying == 1
    smtp.refuse = None
    assert send().due == 0  # not before the back-off
    clock(NOW + backoff(1) + timedelta(seconds=1))
    assert send().sent == 1
    ((refused_id, _answer),) = smtp.refused
    (message,) = smtp.received
    assert message["Message-ID"] == refused_id
    (notice,) = notices(app)
    assert (notice.status, notice.attempts) == (NoticeStatus.SENT, 2)


def test_a_permanent_refusal_fails_the_notice_without_keeping_the_address(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    gift(post)
    smtp.refuse_rcpt = lambda address: f"550 5.1.1 <{address}> no such user"
    assert send().failed == 1
    (notice,) = notices(app)
    assert notice.status == NoticeStatus.FAILED
    assert notice.last_error is not None and "550" in notice.last_error
    assert READER not in notice.last_error


def test_an_unreachable_server_gives_the_notice_back_untouched(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    gift(post)
    with app.app_context():
        settings = with_smtp(
            app.extensions["membership.settings"], f"smtp://127.0.0.1:{free_port()}"
        )
        report = sender.send_due_notices(settings)
    assert report.errors and report.sent == 0
    (notice,) = notices(app)
    assert (notice.status, notice.attempts) == (NoticeStatus.QUEUED, 0)
    assert send().sent == 1
