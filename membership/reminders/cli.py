"""``flask reminders ...``: send due reminders (once, from cron, or as a worker), status."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from membership import erasure
from membership.config import current_settings
from membership.extensions import db
from membership.reminders import sender
from membership.reminders.models import REMINDER_STATUSES, Reminder

reminders_cli = AppGroup("reminders", help="Remind me later: send due reminders, status.")


@reminders_cli.command("send")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most this many.")
@click.option("--dry-run", is_flag=True, help="Only count what is due; send and change nothing.")
def send(limit: int | None, dry_run: bool) -> None:
    """Erase emails past retention, then send every due reminder one email."""
    report = run_once(limit=limit, dry_run=dry_run)
    if report.errors:
        raise click.ClickException(f"stopped early: {report.errors[-1]}")


def run_once(
    limit: int | None = None, dry_run: bool = False, schedule: erasure.Schedule | None = None
) -> sender.SendReport:
    """Erase what is due (emails past retention; payloads daily: ``membership.erasure``),
    then send what is due. Erasing comes first: it owes nothing to the mail server, and a
    run that cannot send (no SMTP_URL in production, a server down) must not keep
    addresses past the promised date."""
    settings = current_settings()
    retention = settings.reminders.retention_days
    erased = 0 if dry_run else erasure.erase_due(retention, schedule or erasure.Schedule())
    try:
        report = sender.send_due_reminders(settings, limit=limit, dry_run=dry_run)
    except sender.MailNotConfigured as exc:
        raise click.ClickException(f"{exc} (erased {erased} old email(s))") from None
    if dry_run:
        click.echo(f"{report.due} reminder(s) due; dry run, nothing sent")
        return report
    click.echo(
        f"sent {report.sent}, retrying later {report.retrying}, failed {report.failed}, "
        f"skipped (cancelled or converted) {report.skipped}; erased {erased} old email(s)"
    )
    return report


@reminders_cli.command("worker")
@click.option(
    "--interval",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds between runs.",
)
def worker(interval: int) -> None:
    """Send due reminders every INTERVAL seconds until stopped (SIGTERM or Ctrl-C)."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    click.echo(f"sending due reminders every {interval}s; stop with Ctrl-C or SIGTERM")
    run_worker(interval, stop)


def run_worker(interval: int, stop: threading.Event) -> None:
    """The worker loop: reminders, then the newsletter's confirmations, then supporters'
    notices; a failed run (mail server down) is reported and retried next time."""
    from membership.newsletter import cli as newsletter_cli
    from membership.notices import cli as notices_cli

    schedule = erasure.Schedule()  # payloads are forgotten once a day by this worker
    while not stop.is_set():
        # The newsletter's confirmations go out (and unconfirmed sign-ups are erased) from
        # the same worker, so a newsroom runs one process for every email the app sends.
        runs = (lambda: run_once(schedule=schedule), newsletter_cli.run_once, notices_cli.run_once)
        for run in runs:
            try:
                run()
            except click.ClickException as exc:
                click.echo(f"error: {exc.message}", err=True)
        db.session.remove()
        stop.wait(interval)


@reminders_cli.command("status")
@click.option("--failed", "show_failed", is_flag=True, help="Also list failed reminders.")
def status(show_failed: bool) -> None:
    """Counts by status; with --failed, each failed reminder's attempts and last error."""
    counts = dict(
        db.session.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all()
    )
    for name in REMINDER_STATUSES:
        click.echo(f"{name:<10} {counts.get(name, 0):>8}")
    if show_failed:
        rows = db.session.scalars(
            select(Reminder).where(Reminder.status == "failed").order_by(Reminder.updated_at)
        )
        for row in rows:
            click.echo(
                f"#{row.id} due {row.due_at:%Y-%m-%d} attempts {row.attempts}: {row.last_error}"
            )
