"""Reminders sent per second to a loopback SMTP sink, as a ratio to raw ``smtplib``.

The baseline sends the very same messages (built beforehand, not timed) with
``smtplib.SMTP.sendmail`` over one connection. The measured path is what
``flask reminders send`` runs: claim batches in the database, re-check them,
render and build each email, send over one connection, record the outcome.
Both run in this process against the same aiosmtpd sink (in its own thread), each
round in the other order; the medians are compared. Goal: at least 50% of raw smtplib.

    .venv/bin/python benchmarks/reminders.py [--messages N] [--rounds N] [--database URL]
"""

from __future__ import annotations

import argparse
import secrets
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import flask_migrate  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import delete, insert, select  # noqa: E402

from membership import create_app  # noqa: E402
from membership.extensions import db  # noqa: E402
from membership.mail import message_bytes  # noqa: E402
from membership.reminders import sender  # noqa: E402
from membership.reminders.models import Reminder  # noqa: E402

GOAL_RATIO = 0.50
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class CountingSink:
    """An SMTP server that accepts everything and only counts (as a real relay would queue)."""

    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.accepted += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="messages per round (500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (3)")
    parser.add_argument(
        "--database", default="", help="DATABASE_URL (default: a temporary SQLite file)"
    )
    return parser.parse_args()


def add_due_reminders(count: int) -> None:
    db.session.execute(
        insert(Reminder),
        [
            {
                "token": secrets.token_urlsafe(32),
                "email": f"reader{n:05d}@example.org",
                "due_at": NOW - timedelta(hours=1),
                "frequency": "monthly",
                "amount_minor": 500,
                "currency": "EUR",
                "status": "scheduled",
                "attempts": 0,
                "created_at": NOW - timedelta(days=30),
                "updated_at": NOW - timedelta(days=30),
            }
            for n in range(count)
        ],
    )
    db.session.commit()


def prebuilt_messages(settings: Any) -> list[tuple[str, bytes]]:
    """The same emails the sender will build, built here untimed for the baseline."""
    rows = db.session.execute(
        select(*sender.MESSAGE_COLUMNS).where(Reminder.status == "scheduled")
    ).all()
    db.session.rollback()
    messages = []
    for row in rows:
        claimed = sender.Claimed(**row._asdict())
        mail = sender.reminder_mail(settings, claimed)
        messages.append((mail.to, message_bytes(mail, settings.reminders.mail_from)))
    return messages


def raw_smtplib(port: int, mail_from: str, messages: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, body in messages:
            smtp.sendmail(mail_from, [to], body)
    return time.perf_counter() - started


def reminders_send(settings: Any) -> tuple[float, int]:
    started = time.perf_counter()
    report = sender.send_due_reminders(settings, now=NOW)
    return time.perf_counter() - started, report.sent


def main() -> None:
    args = parse_args()
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app(
            {
                "APP_ENV": "testing",
                "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
                "DATABASE_URL": database,
                "PUBLIC_BASE_URL": "https://support.example.org",
                "SMTP_URL": f"smtp://127.0.0.1:{port}",
                "MAIL_FROM": "Newsroom <support@news.example>",
            }
        )
        try:
            with app.app_context():
                flask_migrate.upgrade()
                db.session.execute(delete(Reminder))
                db.session.commit()
                settings = app.extensions["membership.settings"]
                results = run_rounds(args, settings, port, sink)
        finally:
            controller.stop()
    report(args, results, database)


def run_rounds(
    args: argparse.Namespace, settings: Any, port: int, sink: CountingSink
) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"raw smtplib, one connection": [], "flask reminders send": []}
    for round_number in range(1, args.rounds + 1):
        add_due_reminders(args.messages)
        messages = prebuilt_messages(settings)
        before = sink.accepted
        if round_number % 2:  # alternate which goes first, so neither gets a warmer machine
            raw_s = raw_smtplib(port, settings.reminders.mail_from, messages)
            ours_s, sent = reminders_send(settings)
        else:
            ours_s, sent = reminders_send(settings)
            raw_s = raw_smtplib(port, settings.reminders.mail_from, messages)
        if sent != args.messages or sink.accepted - before != 2 * args.messages:
            raise SystemExit(f"round {round_number}: expected {args.messages} sent, got {sent}")
        rates["raw smtplib, one connection"].append(args.messages / raw_s)
        rates["flask reminders send"].append(args.messages / ours_s)
        print(
            f"round {round_number}: raw {args.messages / raw_s:8.0f} msg/s   "
            f"reminders {args.messages / ours_s:8.0f} msg/s",
            flush=True,
        )
        db.session.execute(delete(Reminder))
        db.session.commit()
    return rates


def report(args: argparse.Namespace, rates: dict[str, list[float]], database: str) -> None:
    baseline = statistics.median(rates["raw smtplib, one connection"])
    print()
    print(
        f"reminders benchmark: {args.messages} messages x {args.rounds} rounds, "
        f"aiosmtpd sink on loopback, database {database.split(':', 1)[0]}"
    )
    print(f"{'path':<32} {'median msg/s':>14} {'ratio to raw smtplib':>22}")
    print("-" * 70)
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<32} {median:>14.0f} {median / baseline:>21.0%}")
    ratio = statistics.median(rates["flask reminders send"]) / baseline
    print()
    print(f"goal: flask reminders send >= {GOAL_RATIO:.0%} of raw smtplib")
    print(f"result: {ratio:.0%} -> goal {'met' if ratio >= GOAL_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
