"""Fixtures for remind me later: a real SMTP server on loopback, settings that use it,
reminders made through the service, and a clean rate limiter per test."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from membership.config import Settings
from membership.extensions import limiter
from membership.reminders import service
from membership.reminders.models import Reminder

# A fixed "today" for tests that move the clock: reminders are due at 08:00 UTC.
TODAY = date(2026, 11, 2)
NOON = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

Refusal = Callable[[EmailMessage], str | None]


class SmtpSink:
    """Collects every message the server accepted; ``refuse`` may answer a message with a
    4xx/5xx instead (per DATA), ``refuse_rcpt`` per recipient address."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.refused: list[tuple[str, str]] = []
        self.refuse: Refusal | None = None
        self.refuse_rcpt: Callable[[str], str | None] | None = None
        self.lock = threading.Lock()
        self.url = ""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.refuse_rcpt(address) if self.refuse_rcpt else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        answer = self.refuse(message) if self.refuse else None
        with self.lock:
            if answer:
                self.refused.append((str(message["Message-ID"]), answer))
                return answer
            self.received.append(message)
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on loopback, for this test only."""
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    yield sink
    controller.stop()


def with_smtp(settings: Settings, url: str | None, **changes: Any) -> Settings:
    """The app's settings, sending through ``url``."""
    return dataclasses.replace(
        settings, reminders=dataclasses.replace(settings.reminders, smtp_url=url, **changes)
    )


@pytest.fixture
def settings(app: Flask, smtp: SmtpSink) -> Settings:
    return with_smtp(app.extensions["membership.settings"], smtp.url)


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Every test starts with no sign-ups counted (the limiter is process-wide; it has no
    storage until an app was created)."""
    if limiter._storage is not None:
        limiter.reset()
    yield
    if limiter._storage is not None:
        limiter.reset()


def make_reminder(
    email: str = "reader@example.org",
    when: str = "1w",
    today: date = TODAY,
    now: datetime = NOON,
    **consideration: str,
) -> Reminder:
    """A reminder made the way sign-up makes it (needs an app context)."""
    from membership.config import current_settings

    signup = service.parse_signup(
        current_settings(), {"email": email, "when": when, **consideration}, today
    )
    return service.schedule_reminder(signup, now=now)


def due_moment(reminder: Reminder, later: timedelta = timedelta(0)) -> datetime:
    """A moment at which this reminder is due."""
    return reminder.due_at + later
