"""``flask staff ...``: create, list, change the role of, disable, enable and reset staff
accounts, on the server (there is no web page that manages accounts)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from membership.staff import service
from membership.staff.models import ROLES, Role

staff_cli = AppGroup("staff", help="Manage staff accounts.")


def _password(prompt: str) -> str:
    """Ask for a password twice, hidden, until it meets the policy."""
    while True:
        password: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
        try:
            service.check_new_password(password)
        except service.PasswordRejected as exc:
            click.echo(str(exc), err=True)
            continue
        return password


@staff_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="viewer (figures only), care (also one supporter at a time) or admin (also lists, "
    "exports and the audit log).",
)
def create(email: str, role: str) -> None:
    """Create a staff account; prompts for its password (at least 12 characters)."""
    if service.find_staff(email) is not None:
        raise click.ClickException("There is already a staff account for that email.")
    password = _password("Password")
    try:
        user = service.create_staff(email, role, password)
    except (service.StaffAccountError, service.PasswordRejected) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.role} account {user.email}. Sign in at /staff/login.")


@staff_cli.command("list")
def list_accounts() -> None:
    """Every account: email, role, state, second factor, last sign-in (UTC)."""
    for user in service.list_staff():
        state = "disabled" if user.disabled_at else "active"
        totp = "totp" if user.totp_enrolled else "no-totp"
        last = user.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if user.last_sign_in_at else "never"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{totp}\t{last}")


@staff_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_role(email: str, role: str) -> None:
    """Give an account another role (viewer, care or admin), from its next request on."""
    try:
        user = service.set_role(email, role)
    except service.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{user.email} is now {user.role}: {Role(user.role).label}.")


@staff_cli.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Refuse sign-in and end the account's open sessions on their next request."""
    try:
        user = service.disable_staff(email)
    except service.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Disabled {user.email}.")


@staff_cli.command("enable")
@click.argument("email")
def enable(email: str) -> None:
    """Let a disabled account sign in again."""
    try:
        user = service.enable_staff(email)
    except service.StaffAccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Enabled {user.email}.")


@staff_cli.command("reset-password")
@click.argument("email")
@click.option("--remove-totp", is_flag=True, help="Also remove the second factor (a lost phone).")
def reset_password(email: str, remove_totp: bool) -> None:
    """Set a new password (prompted), lift a lockout and sign out every session."""
    if service.find_staff(email) is None:
        raise click.ClickException("There is no staff account for that email.")
    password = _password("New password")
    try:
        user = service.reset_password(email, password, remove_totp=remove_totp)
    except (service.StaffAccountError, service.PasswordRejected) as exc:
        raise click.ClickException(str(exc)) from exc
    extra = " and removed its second factor" if remove_totp else ""
    click.echo(f"Reset the password of {user.email}{extra}; its sessions are signed out.")
