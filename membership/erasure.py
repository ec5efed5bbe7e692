"""Erasure on schedule: what the app promised to forget, forgotten when due.

The reminder worker (``flask reminders worker``) runs this before each batch, so a
newsroom needs no cron job for it: reminders' emails past their retention every run,
Stripe events' payloads once a day (older than ``PAYLOAD_RETENTION``: Stripe resends an
event for three days at most, and lists it for thirty). Each run ends by making what it
erased unreadable on disk (``database.scrub_after_erasure``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from membership import clock
from membership.reminders import service as reminders
from membership.webhooks import service as webhooks

PAYLOAD_RETENTION = timedelta(days=30)
PAYLOADS_EVERY = timedelta(days=1)


class Schedule:
    """When the daily erasure of payloads last ran, in this process."""

    def __init__(self) -> None:
        self.payloads_forgotten_at: datetime | None = None

    def payloads_due(self, now: datetime) -> bool:
        last = self.payloads_forgotten_at
        return last is None or now - last >= PAYLOADS_EVERY


def erase_due(retention_days: int, schedule: Schedule, now: datetime | None = None) -> int:
    """Erase reminders' emails past ``retention_days``, and payloads once a day; returns
    how many reminder emails were erased."""
    now = now or clock.now()
    erased = reminders.erase_old_emails(retention_days, now=now)
    if schedule.payloads_due(now):
        webhooks.forget_payloads(PAYLOAD_RETENTION)
        schedule.payloads_forgotten_at = now
    return erased
