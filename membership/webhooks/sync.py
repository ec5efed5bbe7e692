"""Catching up with Stripe's Events API (``flask stripe sync``), a page at a time, with a
cursor kept in the database so that an interrupted run resumes where it stopped.

Stripe lists events newest first, a hundred a page, each page after the last event of
the one before (``starting_after``). Each page is received and processed before the next
is asked for, so memory holds one page whatever the backlog (the ledger gives the same
result in any order; a page is taken oldest first). The cursor is the last event of the
last page whose every event is settled: a run that is stopped (Ctrl-C, a deploy, a
crash) starts again after it, and the events it had processed on the page it was in are
listed again and found settled, so none is missed or processed twice. A page with an
event that could not be processed leaves the cursor where it was, for the rest of that
run, so that the next run lists that event again and retries it. A run that reaches the
end forgets the cursor: the next run for the same day starts from the newest event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete

from membership import clock, stripe_gateway
from membership.config import Settings
from membership.extensions import db
from membership.webhooks import service
from membership.webhooks.cursor import SyncCursor


@dataclass
class SyncRun:
    """What a run did: events listed (resumed after ``listed_before``), settled already,
    each outcome, and the lines saying what could not be processed."""

    listed_before: int = 0
    listed: int = 0
    settled: int = 0
    outcomes: dict[service.Outcome, int] = field(
        default_factory=lambda: dict.fromkeys(service.Outcome, 0)
    )
    problems: list[str] = field(default_factory=list)


# Receives one listed event: its outcome (None when not stored) and a problem, if any.
Receiver = Callable[[Settings, dict[str, Any]], tuple[service.Outcome | None, str | None]]


def resume_point(created_since: int) -> SyncCursor | None:
    """The cursor an earlier, interrupted run left for this starting time, if any."""
    return db.session.get(SyncCursor, created_since)


def forget(created_since: int) -> None:
    db.session.execute(delete(SyncCursor).where(SyncCursor.created_since == created_since))
    db.session.commit()


def pages(
    settings: Settings, created_since: int, starting_after: str | None
) -> Iterator[list[dict[str, Any]]]:
    """Stripe's pages of events from ``starting_after`` on (newest first), one at a time.
    Stops at the end, or when a page repeats the one before (a server that ignores
    ``starting_after`` would otherwise be listed forever).

    :raise stripe_gateway.GatewayError: when Stripe cannot be asked.
    """
    previous: set[str] = set()
    while True:
        page, has_more = stripe_gateway.list_events(settings, created_since, starting_after)
        ids = {event["id"] for event in page}
        if not page or ids <= previous:
            return
        yield [event for event in page if event["id"] not in previous]
        if not has_more:
            return
        previous = ids
        starting_after = page[-1]["id"]


def sync(
    settings: Settings,
    created_since: int,
    receive: Receiver,
    *,
    from_start: bool = False,
    progress: Callable[[SyncRun], None] | None = None,
) -> SyncRun:
    """Receive every listed event not settled yet, page by page, keeping the cursor.

    :raise stripe_gateway.GatewayError: when Stripe cannot list events (the cursor
        keeps what was done).
    """
    run = SyncRun()
    cursor = None if from_start else resume_point(created_since)
    starting_after = cursor.starting_after if cursor is not None else None
    run.listed_before = cursor.listed if cursor is not None else 0
    advancing = True  # until a page leaves an event unprocessed
    last_id = starting_after
    for page in pages(settings, created_since, starting_after):
        run.listed += len(page)
        settled = service.settled_event_ids([event["id"] for event in page])
        run.settled += len(settled)
        problems_before = len(run.problems)
        for event in sorted(
            (event for event in page if event["id"] not in settled), key=_oldest_first
        ):
            outcome, problem = receive(settings, event)
            if outcome is not None:
                run.outcomes[outcome] += 1
            if problem is not None:
                run.problems.append(problem)
        last_id = page[-1]["id"]
        advancing = advancing and len(run.problems) == problems_before
        if advancing:
            _keep(created_since, last_id, run.listed_before + run.listed)
        if progress is not None:
            progress(run)
    forget(created_since)
    return run


def _keep(created_since: int, starting_after: str, listed: int) -> None:
    """Move the cursor past a page whose every event is settled (its own transaction)."""
    cursor = db.session.get(SyncCursor, created_since)
    if cursor is None:
        cursor = SyncCursor(created_since=created_since)
        db.session.add(cursor)
    cursor.starting_after = starting_after
    cursor.listed = listed
    cursor.updated_at = clock.now()
    db.session.commit()


def _oldest_first(event: dict[str, Any]) -> tuple[int, str]:
    created = event.get("created")
    return (created if type(created) is int else 0, str(event.get("id")))
