"""``flask notices send`` and ``status`` (cron), and the reminders' worker, which sends
supporters' notices with every other email of the app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from membership import create_app
from membership.reminders import cli as reminders_cli
from tests.conftest import app_environ
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import checkout_session


def gift(post: Callable[..., Any]) -> None:
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=1500, customer="cus_c", payment_intent="pi_c"),
    )


def test_send_and_status_from_the_command_line(
    app: Flask, database_url: str, post: Callable[..., Any], smtp: SmtpSink
) -> None:
    gift(post)
    cron_app = create_app(app_environ(database_url, SMTP_URL=smtp.url))
    runner = cron_app.test_cli_runner()
    status = runner.invoke(args=["notices", "status"])
    assert status.exit_code == 0
    assert "receipt" in status.output and "queued" in status.output
    sent = runner.invoke(args=["notices", "send"])
    assert sent.exit_code == 0, sent.output
    assert "sent 1" in sent.output
    assert [m["To"] for m in smtp.received] == ["reader@example.org"]
    receipt_line = next(
        line
        for line in runner.invoke(args=["notices", "status"]).output.splitlines()
        if line.startswith("receipt")
    )
    assert receipt_line.split()[1:] == ["0", "0", "1", "0", "0"]  # queued sending sent ...


def test_production_without_smtp_refuses_to_pretend(
    app: Flask, database_url: str, post: Callable[..., Any]
) -> None:
    from tests.conftest import PRODUCTION_ENVIRON

    gift(post)
    production = create_app({**PRODUCTION_ENVIRON, "DATABASE_URL": database_url})
    result = production.test_cli_runner().invoke(args=["notices", "send"])
    assert result.exit_code != 0 and "SMTP_URL" in result.output


def test_the_reminders_worker_sends_notices_too(
    app: Flask, database_url: str, post: Callable[..., Any], smtp: SmtpSink
) -> None:
    gift(post)
    worker_app = create_app(app_environ(database_url, SMTP_URL=smtp.url))
    stop = threading.Event()

    def work() -> None:
        with worker_app.app_context():
            reminders_cli.run_worker(1, stop)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(100):  # poll with a deadline (10 s), never a fixed sleep
            if smtp.received:
                break
            waited.wait(0.1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [m["To"] for m in smtp.received] == ["reader@example.org"]


def test_status_lists_failed_notices_with_their_error_and_no_address(
    app: Flask, database_url: str, post: Callable[..., Any], smtp: SmtpSink
) -> None:
    gift(post)
    smtp.refuse_rcpt = lambda address: f"550 5.1.1 <{address}> unknown"
    cron_app = create_app(app_environ(database_url, SMTP_URL=smtp.url))
    runner = cron_app.test_cli_runner()
    assert "failed 1" in runner.invoke(args=["notices", "send"]).output
    output = runner.invoke(args=["notices", "status", "--failed"]).output
    assert "receipt attempts 1: 550" in output
    assert "reader@example.org" not in output
