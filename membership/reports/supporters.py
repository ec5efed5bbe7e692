"""The supporter list (admins), finding one supporter by exact email (care and admins),
and a supporter's detail page.

The list pages through supporters newest first (by primary key, so a page is an index
range) and totals only the payments of the supporters on that page (an index lookup by
``supporter_id``), so it costs the same at 200 or 200,000 supporters. Totals keep
``Payment.net_minor``'s one definition of net and are per currency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from membership.extensions import db
from membership.models import (
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    Supporter,
    normalise_email,
)
from membership.notices.service import SentNotice, notices_of
from membership.reminders.models import Reminder
from membership.reports import search

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 254


class SupporterNotFound(LookupError):
    """No supporter has this id."""


class InvalidLookup(ValueError):
    """What was typed to find a supporter is not a whole email address; the message says so."""


@dataclass
class Totals:
    gross_minor: int = 0
    net_minor: int = 0


@dataclass
class SupporterRow:
    id: int
    email: str
    first_gift_at: datetime | None
    totals: dict[str, Totals]  # by currency
    recurring_status: str | None
    recurring_frequency: str | None


@dataclass
class SupporterPage:
    query: str
    page: int
    rows: list[SupporterRow]
    has_next: bool


@dataclass
class SupporterDetail:
    supporter: Supporter
    payments: list[Payment]
    recurring: list[RecurringSupport]
    failures: list[PaymentFailure]
    reminders: list[Reminder]
    sources: list[dict[str, str]]
    totals: dict[str, Totals] = field(default_factory=dict)
    # The emails owed to them (receipts, failed payments, ...): kind and dates, no contents.
    notices: list[SentNotice] = field(default_factory=list)


# A "contains" search is first tried on this many of the newest supporters.
NEWEST_SEARCHED_FIRST = 10_000


def _newest_containing(text: str, offset: int) -> list[Supporter] | None:
    """The page of a "contains" search, when the newest supporters alone hold it; else None.

    A part of many addresses (``12@example``: 20,000 of 2,000,000) cost PostgreSQL 200 ms
    through the trigram index: it reads every match, then keeps the newest 50, and it
    cannot tell a part of many from a part of few in advance (it guessed 200 matches). The
    newest supporters, read newest first through the primary key, hold a common part's
    first pages in a few milliseconds; a rare part finds fewer there than a page needs
    and is answered by the index, which is quick for few matches. Only a part common
    among older supporters and rare among the newest still reads every match."""
    newest = (
        select(Supporter.id, Supporter.email)
        .order_by(Supporter.id.desc())
        .limit(NEWEST_SEARCHED_FIRST)
        .cte("newest")
        .prefix_with("MATERIALIZED", dialect="postgresql")  # read newest first, not planned away
    )
    ids = list(
        db.session.scalars(
            select(newest.c.id)
            .where(search.email_contains(text, newest.c.email))
            .order_by(newest.c.id.desc())
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
    )
    if len(ids) <= PAGE_SIZE:  # fewer than a page among the newest: older ones may follow
        return None
    found = db.session.scalars(
        select(Supporter).where(Supporter.id.in_(ids)).order_by(Supporter.id.desc())
    )
    return list(found)


def supporters_page(query: str = "", page: int = 1) -> SupporterPage:
    """A page of supporters, newest first, whose email contains ``query`` (or is it, for
    a whole address: ``search.email_matches``); raises
    ``search.SearchTooShort`` for a query too short to search for."""
    query = query.strip()[:MAX_QUERY_LENGTH]
    page = max(page, 1)
    offset = (page - 1) * PAGE_SIZE
    text = query.lower()
    found = None
    if text and not search.is_whole_address(text):  # a whole address: the unique index
        found = _newest_containing(text, offset)
    if found is None:
        statement = select(Supporter).order_by(Supporter.id.desc())
        if text:
            statement = statement.where(search.email_matches(text))
        found = list(db.session.scalars(statement.offset(offset).limit(PAGE_SIZE + 1)))
    supporters = found[:PAGE_SIZE]
    ids = [s.id for s in supporters]
    totals, first_gifts = _totals_of(ids)
    latest = _latest_recurring_of(ids)
    rows = [
        SupporterRow(
            id=s.id,
            email=s.email,
            first_gift_at=first_gifts.get(s.id),
            totals=totals.get(s.id, {}),
            recurring_status=latest[s.id].status if s.id in latest else None,
            recurring_frequency=latest[s.id].frequency if s.id in latest else None,
        )
        for s in supporters
    ]
    return SupporterPage(query, page, rows, has_next=len(found) > PAGE_SIZE)


def find_supporter_id(email: str) -> int | None:
    """The id of the supporter whose email is exactly ``email`` (case and surrounding
    spaces aside), or None. An index lookup: no part of an email finds anyone."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if not local or not domain or len(email) > MAX_QUERY_LENGTH:
        raise InvalidLookup("Type the supporter's whole email address, such as ana@example.org.")
    return db.session.scalar(select(Supporter.id).where(Supporter.email == email))


def _totals_of(
    ids: list[int],
) -> tuple[dict[int, dict[str, Totals]], dict[int, datetime]]:
    """Each supporter's gross and net (``Payment.net_minor``) per currency, and their first
    gift, added up by the database: a page of long-standing givers holds thousands of
    payments, and an object for each cost a quarter of a second."""
    totals: dict[int, dict[str, Totals]] = defaultdict(dict)
    first_gifts: dict[int, datetime] = {}
    if not ids:
        return {}, {}
    rows = db.session.execute(
        select(
            Payment.supporter_id,
            Payment.currency,
            func.sum(Payment.amount_minor),
            func.sum(Payment.net_minor),
            func.min(Payment.paid_at),
        )
        .where(Payment.supporter_id.in_(ids))
        .group_by(Payment.supporter_id, Payment.currency)
    )
    for supporter_id, currency, gross, net, first in rows:
        # PostgreSQL sums bigints as numeric: back to whole minor units.
        key = int(supporter_id or 0)  # never None: the ids asked for
        totals[key][currency] = Totals(int(gross), int(net))
        first_gifts[key] = min(first, first_gifts.get(key, first))
    return dict(totals), first_gifts


def _latest_recurring_of(ids: list[int]) -> dict[int, RecurringSupport]:
    latest: dict[int, RecurringSupport] = {}
    if not ids:
        return latest
    supports = db.session.scalars(
        select(RecurringSupport).where(RecurringSupport.supporter_id.in_(ids))
    )
    for support in supports:
        assert support.supporter_id is not None
        current = latest.get(support.supporter_id)
        if current is None or _started(support) > _started(current):
            latest[support.supporter_id] = support
    return latest


def _started(support: RecurringSupport) -> tuple[datetime, str]:
    """The order supports started in; the same second, by Stripe's id (as the export)."""
    return (support.started_at or support.created_at, support.stripe_subscription_id)


def supporter_detail(supporter_id: int) -> SupporterDetail:
    """Everything known about one supporter: payments, recurring support, failures,
    reminders asked for under their email, and the sources their gifts came from."""
    supporter = db.session.get(Supporter, supporter_id)
    if supporter is None:
        raise SupporterNotFound(supporter_id)
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.supporter_id == supporter_id)
            .order_by(Payment.paid_at.desc(), Payment.id.desc())
        )
    )
    recurring = sorted(
        db.session.scalars(
            select(RecurringSupport).where(RecurringSupport.supporter_id == supporter_id)
        ),
        key=_started,
        reverse=True,
    )
    failures = list(
        db.session.scalars(
            select(PaymentFailure)
            .where(PaymentFailure.supporter_id == supporter_id)
            .order_by(PaymentFailure.failed_at.desc())
        )
    )
    reminders = list(
        db.session.scalars(
            select(Reminder)
            .where(Reminder.email == supporter.email)
            .order_by(Reminder.created_at.desc())
        )
    )
    attempts = db.session.scalars(
        select(CheckoutAttempt).where(CheckoutAttempt.supporter_id == supporter_id)
    )
    totals: dict[str, Totals] = defaultdict(Totals)
    for payment in payments:
        totals[payment.currency].gross_minor += payment.amount_minor
        totals[payment.currency].net_minor += payment.net_minor
    return SupporterDetail(
        supporter=supporter,
        payments=payments,
        recurring=recurring,
        failures=failures,
        reminders=reminders,
        sources=_distinct_sources([*payments, *recurring, *attempts], reminders),
        totals=dict(totals),
        notices=notices_of(supporter_id),
    )


_SOURCE_COLUMNS = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_content")


def _distinct_sources(attributed: list[object], reminders: list[Reminder]) -> list[dict[str, str]]:
    seen: dict[tuple[str, ...], dict[str, str]] = {}
    for row in attributed:
        values = {c: getattr(row, c, None) or "" for c in _SOURCE_COLUMNS}
        if any(values.values()):
            seen.setdefault(tuple(values.values()), values)
    for reminder in reminders:
        if reminder.source:
            values = {c: "" for c in _SOURCE_COLUMNS} | {"source": reminder.source}
            seen.setdefault(tuple(values.values()), values)
    return list(seen.values())
