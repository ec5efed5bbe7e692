"""Every change a supporter makes from their account page is confirmed by email once
Stripe accepted it (``account.changes.change_requested``); a change Stripe refused is
not confirmed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from membership.notices.models import NoticeKind, NoticeStatus
from tests.account.conftest import page_csrf
from tests.fake_stripe import FakeStripe
from tests.notices.conftest import notices, squeeze, text_of
from tests.reminders.conftest import SmtpSink

READER = "reader@example.org"
PERIOD_END = datetime(2026, 10, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def gift(
    make_supporter: Callable[..., int],
    make_recurring: Callable[..., int],
    stripe: FakeStripe,
    request: pytest.FixtureRequest,
) -> int:
    """The reader's monthly gift of $5.00; paused when the test asks to resume."""
    paused = "resume" in request.node.name
    supporter = make_supporter(READER, customer="cus_reader")
    subscription = stripe.add_subscription("sub_reader", "cus_reader")
    if paused:
        subscription["pause_collection"] = {"behavior": "void", "resumes_at": None}
    return make_recurring(
        supporter,
        "cus_reader",
        "sub_reader",
        current_period_end=PERIOD_END,
        collection_paused=paused,
        status_as_of=datetime(2026, 9, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("kind", "form", "expected"),
    [
        ("amount", {"amount": "7"}, "You changed your gift to $7.00, from the next payment on."),
        ("switch", {"amount": "60"}, "You switched your gift to $60.00 a year."),
        ("pause", {"months": "2"}, "no payment will be taken until November 21, 2026"),
        ("resume", {}, "You resumed your gift"),
        ("cancel", {}, "it ends on October 21, 2026"),
    ],
    ids=["amount", "switch", "pause", "resume", "cancel"],
)
def test_a_change_from_the_account_page_is_confirmed_once(
    app: Flask,
    gift: int,
    signed_in: Callable[[str], FlaskClient],
    send: Callable[[], Any],
    smtp: SmtpSink,
    kind: str,
    form: dict[str, str],
    expected: str,
) -> None:
    client = signed_in(READER)
    smtp.received.clear()  # the sign-in link
    response = client.post(
        f"/account/recurring/{gift}/{kind}", data={"csrf_token": page_csrf(client), **form}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert send().sent == 1
    assert send().sent == 0
    (message,) = smtp.messages_to(READER)
    text = squeeze(text_of(message))
    assert expected in text
    assert "http://support.test/account" in text
    (notice,) = notices(app)
    assert (notice.kind, notice.status) == (NoticeKind.CHANGE_CONFIRMED, NoticeStatus.SENT)


def test_a_change_stripe_refused_is_not_confirmed(
    app: Flask,
    gift: int,
    signed_in: Callable[[str], FlaskClient],
    send: Callable[[], Any],
    smtp: SmtpSink,
    stripe: FakeStripe,
) -> None:
    client = signed_in(READER)
    smtp.received.clear()
    stripe.fail_with = 500
    client.post(f"/account/recurring/{gift}/cancel", data={"csrf_token": page_csrf(client)})
    send()
    assert smtp.received == [] and notices(app) == []


def test_a_confirmation_that_cannot_be_owed_never_fails_the_change(
    app: Flask,
    gift: int,
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stripe made the change: the supporter sees it asked, the failure goes to the log."""
    client = signed_in(READER)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("membership.notices.service.insert_unless_exists", broken)
    response = client.post(
        f"/account/recurring/{gift}/cancel", data={"csrf_token": page_csrf(client)}
    )
    assert response.status_code == 303
    assert stripe.calls("POST", "/v1/subscriptions/sub_reader")
    assert "could not owe the confirmation" in caplog.text
    assert notices(app) == []
