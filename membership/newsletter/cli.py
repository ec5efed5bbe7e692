"""``flask newsletter ...``: send confirmations, erase stale sign-ups, export, status."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from membership.config import current_settings
from membership.newsletter import export as subscriber_export
from membership.newsletter import figures, sender, service, settings
from membership.staff import audit
from membership.staff.audit import record_audit_now

newsletter_cli = AppGroup("newsletter", help="Newsletter: confirmations, erasure, export, status.")


@newsletter_cli.command("send")
@click.option("--limit", type=click.IntRange(min=1), help="Send at most this many.")
def send(limit: int | None) -> None:
    """Erase sign-ups unconfirmed after 7 days, then send queued confirmation emails."""
    report = run_once(limit=limit)
    if report.errors:
        raise click.ClickException(f"stopped early: {report.errors[-1]}")


def run_once(limit: int | None = None) -> sender.SendReport:
    """Erase, then send: what a worker runs each time (the reminder worker may call it).
    Erasing first owes nothing to the mail server, so a run that cannot send still keeps
    no address past its date."""
    erased = service.erase_unconfirmed()
    try:
        report = sender.send_due_confirmations(current_settings(), settings.current(), limit=limit)
    except sender.MailNotConfigured as exc:
        raise click.ClickException(f"{exc} (erased {erased} unconfirmed sign-up(s))") from None
    click.echo(
        f"newsletter: sent {report.sent}, retrying later {report.retrying}, failed "
        f"{report.failed}, skipped {report.skipped}; erased {erased} unconfirmed sign-up(s)"
    )
    return report


@newsletter_cli.command("erase")
def erase() -> None:
    """Erase every sign-up left unconfirmed 7 days after it was made."""
    click.echo(f"erased {service.erase_unconfirmed()} unconfirmed sign-up(s)")


@newsletter_cli.command("export")
def export() -> None:
    """CSV of confirmed subscribers (email, language, confirmed_at, source) to stdout, for
    the mailing tool; recorded in the audit log."""
    # The audit log's word for a copy of people's addresses, with what was copied.
    record_audit_now(audit.EXPORT_SUPPORTERS, target="newsletter", detail="flask newsletter export")
    for line in subscriber_export.subscriber_rows():
        sys.stdout.write(line)
    sys.stdout.flush()


@newsletter_cli.command("status")
def status() -> None:
    """Subscribers now and month by month, confirmations, unsubscribes, and later gifts."""
    numbers = figures.newsletter_figures()
    click.echo(f"subscribers   {numbers.subscribers:>8}")
    click.echo(f"pending       {numbers.pending:>8}")
    click.echo(f"unsubscribed  {numbers.unsubscribed:>8}")
    click.echo(f"later gave    {numbers.later_gave:>8}  (subscribers who gave after confirming)")
    if numbers.months:
        click.echo("")
        click.echo("month    confirmations  unsubscribes  subscribers")
        for month in numbers.months:
            click.echo(
                f"{month.month}  {month.confirmations:>13}  {month.unsubscribes:>12}  "
                f"{month.subscribers:>11}"
            )
