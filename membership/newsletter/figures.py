"""The newsletter in figures for staff: subscribers over time, confirmations, unsubscribes,
and how many subscribers later gave. Counts only: no figure names anyone.

Months are counted in Python from two dates per row (confirmed, unsubscribed): the same on
SQLite and PostgreSQL, and a newsletter's rows are few enough to read once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select

from membership import clock
from membership.extensions import db
from membership.ledger.models import Payment, Supporter
from membership.newsletter.models import Subscriber
from membership.vocabulary import NewsletterStatus


@dataclass(frozen=True)
class Month:
    """One calendar month (UTC): confirmations and unsubscribes in it, subscribers at its end."""

    month: str  # YYYY-MM
    confirmations: int
    unsubscribes: int
    subscribers: int


@dataclass(frozen=True)
class Figures:
    """The newsletter now, and month by month since its first confirmation."""

    subscribers: int
    pending: int
    unsubscribed: int
    later_gave: int
    months: list[Month]


def _month(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _months_between(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def newsletter_figures(now: datetime | None = None) -> Figures:
    """Every figure of the staff page and ``flask newsletter status``; the months run from
    the first confirmation to ``now``'s month."""
    by_status = dict(
        db.session.execute(
            select(Subscriber.status, func.count()).group_by(Subscriber.status)
        ).all()
    )
    dates = db.session.execute(
        select(Subscriber.confirmed_at, Subscriber.unsubscribed_at).where(
            Subscriber.confirmed_at.is_not(None)
        )
    ).all()
    confirmations = Counter(_month(row.confirmed_at) for row in dates)
    unsubscribes = Counter(_month(row.unsubscribed_at) for row in dates if row.unsubscribed_at)
    months: list[Month] = []
    if confirmations:
        running = 0
        seen = sorted(set(confirmations) | set(unsubscribes))
        for month in _months_between(seen[0], max(seen[-1], _month(now or clock.now()))):
            running += confirmations[month] - unsubscribes[month]
            months.append(Month(month, confirmations[month], unsubscribes[month], running))
    return Figures(
        subscribers=by_status.get(NewsletterStatus.CONFIRMED, 0),
        pending=by_status.get(NewsletterStatus.PENDING, 0),
        unsubscribed=by_status.get(NewsletterStatus.UNSUBSCRIBED, 0),
        later_gave=later_gave(),
        months=months,
    )


def later_gave() -> int:
    """Confirmed subscribers whose address is a supporter's who gave after confirming.

    Only subscribers still holding their address count: an unsubscribed row has none left
    to match.
    """
    gave_after = exists().where(
        Supporter.email == Subscriber.email,
        Payment.supporter_id == Supporter.id,
        Payment.paid_at > Subscriber.confirmed_at,
    )
    count = db.session.scalar(
        select(func.count())
        .select_from(Subscriber)
        .where(Subscriber.status == NewsletterStatus.CONFIRMED, gave_after)
    )
    return int(count or 0)
