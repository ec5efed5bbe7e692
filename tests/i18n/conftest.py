"""Fixtures for languages: the reminders' real SMTP server and settings that send through it."""

from tests.reminders.conftest import (  # noqa: F401 - fixtures shared with reminders
    fresh_rate_limits,
    settings,
    smtp,
)
