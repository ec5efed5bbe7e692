"""Supporter notices: the emails a supporter expects about their own money (a receipt, a
failed payment, an annual renewal ahead, a change they made), each owed once and sent
in their language."""

from flask import Flask

from membership.notices import models  # noqa: F401  (the outbox's table)


def init_app(app: Flask) -> None:
    """``flask notices``, and the facts that owe a notice: the ledger's payments and failed
    payments (``hooks.row_written``), and changes asked from the account page."""
    from membership.account import changes
    from membership.ledger import hooks
    from membership.ledger.models import Payment, PaymentFailure
    from membership.notices import service
    from membership.notices.cli import notices_cli

    app.cli.add_command(notices_cli)
    hooks.row_written.connect(service.receipt_for_payment, sender=Payment.__table__)
    hooks.row_written.connect(service.warning_for_failure, sender=PaymentFailure.__table__)
    changes.change_requested.connect(service.confirmation_for_change)
