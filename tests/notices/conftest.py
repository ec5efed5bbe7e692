"""Fixtures for supporter notices: the clock at the fixed time of the example events, the
SMTP sink, the sender run once against it, and signed events delivered to the webhook."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership.config import Settings
from membership.extensions import db
from membership.notices import sender
from membership.notices.models import Notice
from membership.reminders.sender import SendReport
from tests.account.conftest import (  # noqa: F401  (fixtures)
    make_recurring,
    make_supporter,
    signed_in,
)
from tests.reminders.conftest import SmtpSink, fresh_rate_limits, smtp, with_smtp  # noqa: F401
from tests.stripe_events import BASE_TIME, deliver, event

# The example events happen at BASE_TIME; the app's clock is an hour later.
EVENT_TIME = datetime.fromtimestamp(BASE_TIME, UTC)
NOW = EVENT_TIME + timedelta(hours=1)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """The app's clock, an hour after the example events; call it to move it."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr("membership.clock.now", lambda: moment)

    set_to(NOW)
    return set_to


@pytest.fixture
def use_settings(app: Flask) -> Iterator[Callable[..., Settings]]:
    """Replace some of the app's settings for this test (``receipt_text=...``)."""
    original = app.extensions["membership.settings"]

    def change(**changes: Any) -> Settings:
        settings: Settings = dataclasses.replace(original, **changes)
        app.extensions["membership.settings"] = settings
        return settings

    yield change
    app.extensions["membership.settings"] = original


@pytest.fixture
def send(app: Flask, smtp: SmtpSink) -> Callable[[], SendReport]:  # noqa: F811
    """Run the sender once, to the SMTP sink."""

    def run() -> SendReport:
        with app.app_context():
            settings = with_smtp(app.extensions["membership.settings"], smtp.url)
            return sender.send_due_notices(settings)

    return run


@pytest.fixture
def post(app: Flask, client: FlaskClient) -> Callable[..., Any]:
    """Deliver one signed event of this type and object; the webhook must accept it."""

    def deliver_one(event_type: str, obj: dict[str, Any], created: int = BASE_TIME) -> Any:
        response = deliver(client, event(event_type, obj, created=created))
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    return deliver_one


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def notices(app: Flask) -> list[Notice]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(Notice).order_by(Notice.id)))
        db.session.expunge_all()
        return rows


def squeeze(text: str) -> str:
    """Text with its line breaks and runs of spaces as single spaces."""
    return re.sub(r"\s+", " ", text)
