"""``flask notices ...``: send owed notices (from cron, or the reminders' worker), status."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from membership.config import current_settings
from membership.extensions import db
from membership.notices import sender
from membership.notices.models import Notice, NoticeKind, NoticeStatus
from membership.reminders.sender import MailNotConfigured, SendReport

notices_cli = AppGroup(
    "notices", help="Supporters' receipts, failed payments, renewals ahead, confirmations."
)


@notices_cli.command("send")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most this many.")
def send(limit: int | None) -> None:
    """Owe the annual renewals coming up, then send every owed notice."""
    report = run_once(limit=limit)
    if report.errors:
        raise click.ClickException(f"stopped early: {report.errors[-1]}")


def run_once(limit: int | None = None) -> SendReport:
    """One run, as ``send`` and the reminders' worker do it."""
    try:
        report = sender.send_due_notices(current_settings(), limit=limit)
    except MailNotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"notices: sent {report.sent}, retrying later {report.retrying}, failed "
        f"{report.failed}, not sent (no longer owed, or waiting) {report.skipped}"
    )
    return report


@notices_cli.command("status")
@click.option("--failed", "show_failed", is_flag=True, help="Also list failed notices.")
def status(show_failed: bool) -> None:
    """Notices by kind and status (counts only); with --failed, each failed notice's kind,
    attempts and last error (the server's answer, addresses masked)."""
    counts = {
        (kind, state): count
        for kind, state, count in db.session.execute(
            select(Notice.kind, Notice.status, func.count()).group_by(Notice.kind, Notice.status)
        )
    }
    click.echo(f"{'':<18}" + "".join(f"{state:>9}" for state in NoticeStatus))
    for kind in NoticeKind:
        row = "".join(f"{counts.get((kind, state), 0):>9}" for state in NoticeStatus)
        click.echo(f"{kind:<18}{row}")
    if show_failed:
        failed = db.session.execute(
            select(Notice.id, Notice.kind, Notice.attempts, Notice.last_error)
            .where(Notice.status == NoticeStatus.FAILED)
            .order_by(Notice.id)
        )
        for notice_id, failed_kind, attempts, last_error in failed:
            click.echo(f"#{notice_id} {failed_kind} attempts {attempts}: {last_error}")
