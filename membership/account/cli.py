"""``flask account send-links`` (cron: what the web processes' sender missed),
``flask supporters export EMAIL`` (staff: everything held about one supporter) and
``flask supporters erase EMAIL`` (staff: a request to be forgotten, received by post)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from membership import stripe_gateway
from membership.account import erasure, sender, service
from membership.config import current_settings
from membership.extensions import db
from membership.staff.audit import ERASE_SUPPORTER, EXPORT_SUPPORTERS, record_audit_now
from membership.staff.models import StaffUser

account_cli = AppGroup("account", help="Supporters' accounts: send queued sign-in links.")
supporters_cli = AppGroup("supporters", help="Supporters' data, for staff (audited).")


@account_cli.command("send-links")
def send_links() -> None:
    """Send queued sign-in links, then forget links older than a day."""
    report = sender.send_queued_links(current_settings(), current_app.config["SECRET_KEY"])
    forgotten = service.forget_old_links()
    click.echo(
        f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
        f"forgotten {forgotten}"
    )
    if report.errors:
        raise click.ClickException(f"stopped early: {report.errors[-1]}")


def _active_staff(staff_email: str) -> StaffUser:
    staff = db.session.scalar(
        select(StaffUser).where(StaffUser.email == staff_email.strip().lower())
    )
    if staff is None or not staff.is_active:
        raise click.ClickException("no active staff account has that email")
    return staff


@supporters_cli.command("export")
@click.argument("email")
@click.option("--by", "staff_email", required=True, help="Your staff account's email (audited).")
def export(email: str, staff_email: str) -> None:
    """Print everything held about the supporter with EMAIL as JSON, as their own download
    gives it; the audit log records who exported which supporter (by id)."""
    staff = _active_staff(staff_email)
    supporter = service.supporter_by_email(email)
    if supporter is None:
        record_audit_now(EXPORT_SUPPORTERS, None, staff=staff, detail="one supporter: not found")
        raise click.ClickException("no supporter has that email")
    data = service.supporter_data(supporter)
    record_audit_now(EXPORT_SUPPORTERS, str(supporter.id), staff=staff, detail="one supporter")
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@supporters_cli.command("erase")
@click.argument("email")
@click.option("--by", "staff_email", required=True, help="Your staff account's email (audited).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(email: str, staff_email: str, yes: bool) -> None:
    """Erase the supporter with EMAIL as their own ``/account/erase`` does: recurring gifts
    cancelled and customers deleted at Stripe, the address erased everywhere here. The
    audit log records who erased which supporter (by id: the email is gone)."""
    staff = _active_staff(staff_email)
    supporter = service.supporter_by_email(email)
    if supporter is None:
        record_audit_now(ERASE_SUPPORTER, None, staff=staff, detail="not found")
        raise click.ClickException("no supporter has that email")
    if not yes:
        click.confirm(f"Erase supporter {supporter.id} for good?", abort=True)
    try:
        done = erasure.erase_supporter(current_settings(), supporter)
    except stripe_gateway.GatewayError as exc:
        record_audit_now(ERASE_SUPPORTER, str(supporter.id), staff=staff, detail="stripe failed")
        raise click.ClickException(f"Stripe did not answer; nothing was erased ({exc})") from exc
    record_audit_now(ERASE_SUPPORTER, str(done.supporter_id), staff=staff, detail="erased")
    click.echo(
        f"erased supporter {done.supporter_id}: {done.subscriptions_cancelled} recurring "
        f"gift(s) cancelled, {done.customers_deleted} Stripe customer(s) deleted"
    )
