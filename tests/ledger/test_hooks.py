"""The ledger announces facts and never reaches into the parts that react to them."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask

from membership import create_app
from membership.ledger import hooks
from membership.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    Reminder,
    Supporter,
)
from membership.notices import service as notices
from membership.reminders import service as reminders
from membership.reports import rollups
from tests.conftest import app_environ

LEDGER = Path(__file__).resolve().parents[2] / "membership" / "ledger"
FEATURES = ("reminders", "reports", "support", "staff", "webhooks", "demo", "notices")


def _receivers(signal: object) -> list[object]:
    return [ref() for ref in signal.receivers.values()]  # type: ignore[attr-defined]


def _by_name(receivers: Iterable[Any]) -> list[Any]:
    """Receivers in a fixed order (each part connects its own in create_app's order)."""
    return sorted(receivers, key=lambda receiver: receiver.__qualname__)


def test_each_receiver_is_connected_once_however_many_apps(app: Flask, database_url: str) -> None:
    for _ in range(3):
        create_app(app_environ(database_url))
    assert _receivers(hooks.payment_recorded) == [reminders.suppress_after_gift]
    assert _receivers(hooks.attempt_paid) == [reminders.convert_linked_reminder]
    assert _receivers(hooks.committing) == [rollups._write_pending]
    assert _by_name(_receivers(hooks.row_written)) == _by_name(
        [rollups._move_contributions, notices.receipt_for_payment, notices.warning_for_failure]
    )
    # the rollups for the ledger's tables whose rows count in the reports, and only those;
    # supporter notices for payments (receipts) and failed payments
    written = hooks.row_written.receivers_for
    assert _by_name(written(Payment.__table__)) == _by_name(
        [rollups._move_contributions, notices.receipt_for_payment]
    )
    for table in (RecurringSupport.__table__, CheckoutAttempt.__table__):
        assert list(written(table)) == [rollups._move_contributions]
    assert _by_name(written(PaymentFailure.__table__)) == _by_name(
        [rollups._move_contributions, notices.warning_for_failure]
    )
    assert list(written(Supporter.__table__)) == []
    assert list(written(Reminder.__table__)) == []  # the reminders have their own signals


def test_no_ledger_module_imports_a_feature_package() -> None:
    for module in LEDGER.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not any(name.startswith(f"membership.{feature}") for feature in FEATURES), (
                    f"{module.name} imports {name}"
                )


def test_every_signal_says_what_it_passes() -> None:
    for signal in (hooks.payment_recorded, hooks.attempt_paid, hooks.row_written, hooks.committing):
        assert ":sender:" in (signal.__doc__ or "")
