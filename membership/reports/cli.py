"""``flask export ...`` (CSV of payments and supporters to stdout) and ``flask reports ...``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from datetime import date
from typing import Any

import click
from flask.cli import AppGroup

from membership.extensions import db
from membership.reports import export, rollups
from membership.staff import audit
from membership.staff.audit import record_audit_now

export_cli = AppGroup("export", help="Write CSV exports to stdout.")


class UTCDay(click.ParamType):
    """A UTC day on the command line, YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return export.parse_day(str(value))
        except export.InvalidDayRange as exc:
            self.fail(str(exc), param, ctx)


@export_cli.command("payments")
@click.option("--since", type=UTCDay(), help="First UTC day included.")
@click.option("--until", type=UTCDay(), help="UTC day the export stops before (not included).")
def export_payments(since: date | None, until: date | None) -> None:
    """One row per payment, by time paid; --since is included, --until is not."""
    try:
        lines = export.payment_rows(since, until)
    except export.InvalidDayRange as exc:
        raise click.UsageError(str(exc)) from exc
    _audited(audit.EXPORT_PAYMENTS, export.period_label(since, until))
    _write(lines)


@export_cli.command("supporters")
def export_supporters() -> None:
    """One row per supporter and currency they gave in, with lifetime totals."""
    _audited(audit.EXPORT_SUPPORTERS, None)
    _write(export.supporter_rows())


def _audited(action: str, target: str | None) -> None:
    """Every copy of the supporters' data taken is in the audit log, from the staff pages
    as from the server's command line (no staff member or address: whoever ran it)."""
    record_audit_now(action, target=target, detail="flask export")


def _write(lines: Iterable[str]) -> None:
    for chunk in export.in_chunks(lines):
        sys.stdout.write(chunk)
    sys.stdout.flush()


reports_cli = AppGroup("reports", help="Staff report upkeep.")


@reports_cli.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Make the report rollups equal to the ledger (after a bulk load, or to repair); locks
    nothing, so webhooks and readers go on meanwhile."""
    started = time.perf_counter()
    counts = rollups.rebuild()
    db.session.commit()
    read = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in counts.items())
    click.echo(f"rollups repaired from {read} in {time.perf_counter() - started:.1f} s")
