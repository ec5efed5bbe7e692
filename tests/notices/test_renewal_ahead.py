"""An annual gift's renewal is announced 7 days before it is charged, once per period,
from the period's end Stripe states (on each item now, on the subscription before)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from membership.extensions import db
from membership.ledger.models import RecurringSupport
from membership.notices.models import NoticeKind, NoticeStatus
from tests.notices.conftest import NOW, notices, squeeze, text_of
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import BASE_TIME, checkout_session, subscription

READER = "reader@example.org"
DAY = 86400


def annual(
    period_end: int, *, old_shape: bool = False, paused: bool = False, **changes: Any
) -> dict[str, Any]:
    changes.setdefault("interval", "year")
    obj = subscription(subscription_id="sub_year", customer="cus_year", amount=6000, **changes)
    if paused:  # Stripe's pause_collection: the gift stays active, nothing is collected
        obj["pause_collection"] = {"behavior": "void", "resumes_at": None}
    item = obj["items"]["data"][0]
    if old_shape:  # API versions before basil: the period on the subscription
        item.pop("current_period_end", None)
        obj["current_period_end"] = period_end
    else:
        item["current_period_end"] = period_end
    return obj


@pytest.fixture
def supporter(post: Callable[..., Any]) -> None:
    """The reader who started the annual gift through Checkout."""
    post(
        "checkout.session.completed",
        checkout_session(
            mode="subscription", amount=6000, customer="cus_year", subscription="sub_year"
        ),
    )


def period_end_of(app: Flask) -> Any:
    with app.app_context():
        return db.session.scalar(db.select(RecurringSupport.current_period_end))


@pytest.mark.parametrize("old_shape", [False, True], ids=["item", "subscription"])
def test_the_period_end_is_read_from_either_shape(
    app: Flask, post: Callable[..., Any], old_shape: bool
) -> None:
    end = BASE_TIME + 300 * DAY
    post("customer.subscription.updated", annual(end, old_shape=old_shape))
    assert period_end_of(app).timestamp() == end


def test_an_older_event_does_not_move_the_period_back(app: Flask, post: Callable[..., Any]) -> None:
    post("customer.subscription.updated", annual(BASE_TIME + 365 * DAY), created=BASE_TIME + 10)
    post("customer.subscription.updated", annual(BASE_TIME + 5 * DAY), created=BASE_TIME)
    assert period_end_of(app).timestamp() == BASE_TIME + 365 * DAY


def test_the_renewal_is_announced_a_week_ahead_once_per_period(
    app: Flask,
    supporter: None,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[..., None],
) -> None:
    renews = BASE_TIME + 30 * DAY
    post("customer.subscription.updated", annual(renews))
    assert send().sent == 0  # a month ahead: not yet
    clock(NOW + timedelta(days=23, hours=1))  # six days and some hours before
    assert send().sent == 1
    assert send().sent == 0
    (message,) = smtp.messages_to(READER)
    text = squeeze(text_of(message))
    assert "$60.00" in text and "October 21, 2026" in text
    assert "http://support.test/account" in text
    assert "renews on October 21, 2026" in message["Subject"]

    # Renewed: the next period's notice comes a year later, once.
    post(
        "customer.subscription.updated",
        annual(renews + 365 * DAY),
        created=renews + 10,
    )
    clock(NOW + timedelta(days=23 + 365))
    assert send().sent == 1
    assert send().sent == 0
    assert [n.kind for n in notices(app)] == [NoticeKind.RENEWAL_AHEAD] * 2


@pytest.mark.parametrize(
    "changes",
    [
        {"cancel_at_period_end": True},
        {"status": "canceled"},
        {"interval": "month"},
        {"paused": True},
    ],
    ids=["cancels-at-period-end", "canceled", "monthly", "paused"],
)
def test_no_notice_for_a_gift_that_will_not_renew_yearly(
    supporter: None,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    clock: Callable[..., None],
    changes: dict[str, Any],
) -> None:
    post("customer.subscription.updated", annual(BASE_TIME + 3 * DAY, **changes))
    send()
    assert smtp.received == []


def test_a_notice_owed_before_the_gift_was_cancelled_is_dropped(
    app: Flask,
    supporter: None,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
) -> None:
    from membership.notices.service import queue_renewals_ahead

    post("customer.subscription.updated", annual(BASE_TIME + 3 * DAY), created=BASE_TIME)
    with app.app_context():
        assert queue_renewals_ahead() == 1
    post(
        "customer.subscription.updated",
        annual(BASE_TIME + 3 * DAY, cancel_at_period_end=True),
        created=BASE_TIME + 10,
    )
    send()
    assert smtp.received == []
    assert [n.status for n in notices(app)] == [NoticeStatus.DROPPED]
