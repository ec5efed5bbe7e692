"""The claim steps every mail queue shares: reminders, newsletter confirmations, notices.

Each queue's sender claims a row (its status to "sending", with when, by whom, and one
more attempt), sends, and records what happened. Two steps are the same for every queue,
on each table's own columns: giving a claim back when the mail server was unavailable
(not the row's fault, so the attempt is returned too), and giving up a claim that went
stale on its last attempt (its worker kept dying while sending it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update

from membership.config import Settings
from membership.extensions import db

UNAVAILABLE = "mail server unavailable"


@dataclass(frozen=True)
class ClaimColumns:
    """Where one queue keeps its claims, and the statuses it uses for them."""

    status: Any  # each an ORM column attribute of the queue's model
    attempts: Any
    claimed_at: Any
    claimed_by: Any
    last_error: Any
    sending: str
    waiting: str  # the status a claim given back returns to
    failed: str

    @classmethod
    def of(
        cls,
        model: Any,
        *,
        sending: str,
        waiting: str,
        failed: str,
        status: str = "status",
        attempts: str = "attempts",
    ) -> ClaimColumns:
        """A queue's claim columns, by their usual names on ``model``."""
        return cls(
            status=getattr(model, status),
            attempts=getattr(model, attempts),
            claimed_at=model.claimed_at,
            claimed_by=model.claimed_by,
            last_error=model.last_error,
            sending=sending,
            waiting=waiting,
            failed=failed,
        )

    @property
    def model(self) -> Any:
        return self.status.class_


def give_back(
    columns: ClaimColumns, mine: ColumnElement[bool], reason: str | None = UNAVAILABLE, **also: Any
) -> None:
    """Return the claims ``mine`` selects (still this worker's) and their attempt, for the
    next run; ``reason`` kept as the last error (None: left as it was). Not committed."""
    values = {
        columns.status: columns.waiting,
        columns.attempts: columns.attempts - 1,
        columns.claimed_at: None,
        columns.claimed_by: None,
        **({columns.last_error: reason} if reason is not None else {}),
        **{getattr(columns.model, name): value for name, value in also.items()},
    }
    db.session.execute(
        update(columns.model)
        .where(mine)
        .values(values)
        .execution_options(synchronize_session=False)
    )


def give_up_stale_claims(
    columns: ClaimColumns, settings: Settings, now: datetime, reason: str, **also: Any
) -> None:
    """A claim that went stale on its last attempt is given up, ``reason`` its last error;
    committed."""
    stale = now - timedelta(seconds=settings.reminders.claim_timeout_seconds)
    values = {
        columns.status: columns.failed,
        columns.last_error: reason,
        **{getattr(columns.model, name): value for name, value in also.items()},
    }
    db.session.execute(
        update(columns.model)
        .where(
            columns.status == columns.sending,
            columns.claimed_at < stale,
            columns.attempts >= settings.reminders.max_attempts,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
