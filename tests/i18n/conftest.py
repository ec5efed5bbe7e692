"""Fixtures for languages: the reminders' real SMTP server and settings that send through
it; the accounts' supporters and signed-in browsers."""

from tests.account.conftest import (  # noqa: F401 - fixtures shared with accounts
    make_gift,
    make_recurring,
    make_supporter,
    signed_in,
)
from tests.reminders.conftest import (  # noqa: F401 - fixtures shared with reminders
    fresh_rate_limits,
    settings,
    smtp,
)
