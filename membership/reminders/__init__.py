"""Remind me later: sign-up, snooze, sending due reminders, suppression after a gift."""
