"""``flask stripe ...``: replay, list and sync stored Stripe events."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from membership import stripe_gateway
from membership.config import Settings, current_settings
from membership.database import describe_error
from membership.extensions import db
from membership.models import StripeEvent
from membership.webhooks import service
from membership.webhooks import sync as stripe_sync
from membership.webhooks.handlers import RetryLater

log = logging.getLogger(__name__)
stripe_cli = AppGroup("stripe", help="Stripe events: replay, list, sync.")


@stripe_cli.command("replay")
@click.argument("event_id")
def replay(event_id: str) -> None:
    """Process a stored event again (handlers are idempotent)."""
    try:
        outcome = service.replay_event(event_id)
    except service.UnknownEvent as exc:
        raise click.ClickException(str(exc)) from None
    except RetryLater as exc:
        raise click.ClickException(f"{event_id}: {exc}; nothing changed, try again later") from None
    click.echo(f"{event_id}: {outcome.value}")
    if outcome is service.Outcome.FAILED:
        stored = db.session.get(StripeEvent, event_id)
        raise click.ClickException(f"failed again: {stored.last_error if stored else ''}")


@stripe_cli.command("events")
@click.option("--failed", is_flag=True, help="Only events whose processing failed.")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def events(failed: bool, limit: int) -> None:
    """List stored events and their state."""
    query = select(StripeEvent).order_by(StripeEvent.created.desc(), StripeEvent.id).limit(limit)
    if failed:
        query = query.where(StripeEvent.status == "failed")
    rows = db.session.scalars(query).all()
    if not rows:
        click.echo("no events")
        return
    click.echo(f"{'id':<32} {'type':<36} {'created (UTC)':<20} {'status':<10} attempts  error")
    for row in rows:
        click.echo(
            f"{row.id:<32} {row.type:<36} {row.created:%Y-%m-%d %H:%M:%S} "
            f"{row.status:<10} {row.attempts:>8}  {row.last_error or ''}"
        )


@stripe_cli.command("sync")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Fetch events created on or after this UTC date (Stripe keeps 30 days).",
)
@click.option(
    "--from-start",
    is_flag=True,
    help="List from the newest event again, not from where an interrupted run stopped.",
)
def sync(since: datetime, from_start: bool) -> None:
    """Page through Stripe's Events API and process every event not settled yet.

    A page at a time, newest first, with a running count on stderr; interrupted, the next
    run with the same --since resumes after the last page done (``webhooks.sync``). An
    event that cannot be stored or processed is reported and the others go on; the
    command then exits with status 1, and running it again tries those events again.
    """
    settings = current_settings()
    created_since = int(since.replace(tzinfo=UTC).timestamp())
    resumed = None if from_start else stripe_sync.resume_point(created_since)
    if resumed is not None:
        click.echo(
            f"resuming after {resumed.listed} events listed by a run stopped at "
            f"{resumed.updated_at:%Y-%m-%d %H:%M:%S} UTC (--from-start to list them again)"
        )
    try:
        run = stripe_sync.sync(
            settings, created_since, _sync_one, from_start=from_start, progress=_show_progress
        )
    except stripe_gateway.GatewayError as exc:
        raise click.ClickException(f"could not list events from Stripe: {exc}") from exc
    finally:
        click.echo("", err=True)  # end the progress line
    for problem in run.problems:
        click.echo(problem, err=True)
    summary = ", ".join(f"{outcome.value} {n}" for outcome, n in run.outcomes.items())
    not_stored = len(run.problems) - run.outcomes[service.Outcome.FAILED]
    click.echo(
        f"listed {run.listed}, already settled {run.settled}; {summary}, not stored {not_stored}"
    )
    if run.problems:
        raise click.ClickException(
            f"{len(run.problems)} events not processed (listed above); run sync again to retry "
            "them, or see `flask stripe events --failed`"
        )


def _show_progress(run: stripe_sync.SyncRun) -> None:
    """One line on stderr, rewritten after each page: a backlog of 100,000 takes minutes."""
    done = sum(run.outcomes.values())
    click.echo(
        f"\rlisted {run.listed_before + run.listed:,}, already settled {run.settled:,}, "
        f"received {done:,}, not processed {len(run.problems):,}",
        err=True,
        nl=False,
    )


def _sync_one(
    settings: Settings, event: dict[str, Any]
) -> tuple[service.Outcome | None, str | None]:
    """Receive one listed event: its outcome (None when it could not be stored) and, when
    it was not processed, a line saying why. No error stops the events after it."""
    name = f"{event.get('id')!a} ({event.get('type')!a})"  # ascii: a lone surrogate prints
    try:
        received = service.receive_listed_event(settings, event)
    except service.InvalidEvent as exc:
        return None, f"{name}: refused, not stored: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported, and the next event goes on
        db.session.rollback()
        if isinstance(exc, DBAPIError):  # no traceback: it would quote the database's detail
            log.error(
                "stripe event %a could not be synced: %s", event.get("id"), describe_error(exc)
            )
        else:
            log.exception("stripe event %a could not be synced", event.get("id"))
        return None, f"{name}: not stored: {describe_error(exc)}"
    if received.outcome is not service.Outcome.FAILED:
        return received.outcome, None
    stored = db.session.get(StripeEvent, received.event_id)
    error = stored.last_error if stored is not None else ""
    db.session.rollback()
    return received.outcome, f"{name}: failed, kept to retry: {error}"


@stripe_cli.command("forget-payloads")
@click.option("--older-than-days", default=30, show_default=True, type=click.IntRange(min=1))
def forget_payloads(older_than_days: int) -> None:
    """Blank the stored payloads (personal data) of events processed long enough ago."""
    count = service.forget_payloads(timedelta(days=older_than_days))
    click.echo(f"forgot the payloads of {count} events older than {older_than_days} days")
