"""Remind me later: sign-up, snooze, sending due reminders, suppression after a gift."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Pages, ``flask reminders``, and the ledger's facts reminders react to: a gift
    suppresses the giver's reminder; a gift through a reminder's link converts it."""
    from membership.ledger import hooks
    from membership.reminders import service
    from membership.reminders.cli import reminders_cli
    from membership.reminders.views import blueprint

    app.register_blueprint(blueprint)
    app.cli.add_command(reminders_cli)
    hooks.payment_recorded.connect(service.suppress_after_gift)
    hooks.attempt_paid.connect(service.convert_linked_reminder)
