"""``flask export ...``: CSV of payments and supporters to stdout."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date
from typing import Any

import click
from flask.cli import AppGroup

from membership.reports import export

export_cli = AppGroup("export", help="Write CSV exports to stdout.")


class UTCDay(click.ParamType):
    """A UTC day on the command line, YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return export.parse_day(str(value))
        except export.InvalidPeriod as exc:
            self.fail(str(exc), param, ctx)


@export_cli.command("payments")
@click.option("--since", type=UTCDay(), help="First UTC day included.")
@click.option("--until", type=UTCDay(), help="UTC day the export stops before (not included).")
def export_payments(since: date | None, until: date | None) -> None:
    """One row per payment, by time paid; --since is included, --until is not."""
    try:
        lines = export.payment_rows(since, until)
    except export.InvalidPeriod as exc:
        raise click.UsageError(str(exc)) from exc
    _write(lines)


@export_cli.command("supporters")
def export_supporters() -> None:
    """One row per supporter and currency they gave in, with lifetime totals."""
    _write(export.supporter_rows())


def _write(lines: Iterable[str]) -> None:
    for line in lines:
        sys.stdout.write(line)
    sys.stdout.flush()
