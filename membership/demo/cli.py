"""``flask demo seed``: example supporters and payments, through the ledger or in bulk."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from membership.config import current_settings
from membership.demo import bulk, histories
from membership.demo import seed as demo_seed

demo_cli = AppGroup("demo", help="Example data for development and benchmarks.")


@demo_cli.command("seed")
@click.option(
    "--supporters", "supporter_count", default=500, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--payments", "payment_count", default=3000, show_default=True, type=click.IntRange(1)
)
@click.option("--seed", "seed_value", default=1, show_default=True, help="Random seed.")
@click.option(
    "--bulk",
    "in_bulk",
    is_flag=True,
    help="Write the rows the ledger would write straight into an empty database "
    "(PostgreSQL COPY): millions of payments in minutes.",
)
def seed_command(supporter_count: int, payment_count: int, seed_value: int, in_bulk: bool) -> None:
    """Add example supporters and payments over the last 24 months (not in production)."""
    if current_settings().env == "production":
        raise click.UsageError("demo data is never added to a production database (APP_ENV)")
    started = time.perf_counter()
    try:
        if in_bulk:
            summary: demo_seed.SeedSummary | bulk.BulkSummary = bulk.load(
                supporter_count,
                payment_count,
                seed_value=seed_value,
                progress=lambda done: click.echo(
                    f"  {done:,} of {supporter_count:,} supporters written "
                    f"({time.perf_counter() - started:.0f} s)",
                    err=True,
                ),
            )
        else:
            summary = demo_seed.seed(supporter_count, payment_count, seed_value=seed_value)
    except (histories.SeedRefused, bulk.NotEmpty) as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(
        f"added {summary.supporters} supporters, {summary.payments} payments, "
        f"{summary.recurring} recurring supports, {summary.attempts} checkout attempts and "
        f"{summary.reminders} reminders in {time.perf_counter() - started:.1f} s"
    )
