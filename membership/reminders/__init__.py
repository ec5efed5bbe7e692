"""Remind me later: sign-up, snooze, sending due reminders, suppression after a gift."""

from membership.reminders.views import blueprint

__all__ = ["blueprint"]
