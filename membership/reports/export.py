"""CSV exports of the ledger: payments and supporters, one CSV line at a time.

Each export is a generator of CSV text lines (the header first, ``\\r\\n`` endings,
minimal quoting) that reads the database in batches, so ``flask export`` and the
staff pages can write or stream any number of rows without holding them in memory.
A staff view streaming them needs the app context while it iterates
(``flask.stream_with_context``).

Money is integer minor units beside the ISO currency code; times are ISO 8601 UTC
to the second (``2026-11-29T23:59:59Z``). Text cells that a spreadsheet would read
as a formula (starting with ``= + - @``, a tab or a carriage return) are prefixed
with a single quote; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import Subquery, and_, func, select

from membership.extensions import db
from membership.models import Payment, RecurringSupport, Supporter

BATCH_SIZE = 1000

PAYMENT_COLUMNS = (
    "payment_id",
    "invoice_id",
    "subscription_id",
    "email",
    "amount_minor",
    "amount_refunded_minor",
    "amount_disputed_minor",
    "amount_net_minor",
    "currency",
    "status",
    "frequency",
    "paid_at",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
)

SUPPORTER_COLUMNS = (
    "email",
    "first_gift_at",
    "lifetime_minor",
    "gross_minor",
    "currency",
    "recurring_status",
    "frequency",
)

Cell = str | int | None

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# What makes Excel, LibreOffice and Google Sheets evaluate a cell as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class InvalidDayRange(ValueError):
    """A day that is not YYYY-MM-DD, or a period that ends before it starts."""


def period_label(since: date | None, until: date | None) -> str:
    """A payments export's period as the audit log names it: ``2026-01-01..2026-02-01``."""
    return f"{since or ''}..{until or ''}"


def parse_day(text: str) -> date:
    """A UTC day written YYYY-MM-DD, or ``InvalidDayRange`` with a message a person can act on."""
    value = text.strip()
    if _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDayRange(f"{text!r} is not a day: write it YYYY-MM-DD (a UTC day), say 2026-11-30")


def payment_rows(since: date | None = None, until: date | None = None) -> Iterator[str]:
    """CSV lines of payments paid from the start of UTC day ``since`` (included) up to the
    start of UTC day ``until`` (not included), ordered by ``paid_at`` then Stripe's ids
    (the same file whatever order Stripe's events arrived in).

    ``until=2026-11-30`` takes everything up to 2026-11-29 23:59:59 UTC. Either bound
    may be left out. ``payment_id`` is Stripe's payment intent id, or the invoice id
    where no payment intent is known; ``amount_net_minor`` is what we keep (amount,
    less refunds and disputed money while held or lost). Raises ``InvalidDayRange`` at
    once, before any line, when ``since`` is not before ``until``.
    """
    start = _start_of(since)
    end = _start_of(until)
    if start is not None and end is not None and start >= end:
        raise InvalidDayRange(
            f"the period is empty: {since} must be before {until} (the end day is not included)"
        )
    return csv_lines(PAYMENT_COLUMNS, _payment_cells(start, end))


def supporter_rows() -> Iterator[str]:
    """CSV lines, one per supporter and currency they gave in, ordered by email then currency.

    ``lifetime_minor`` is the sum of the net amounts of their payments in that currency
    (after refunds, and disputed money while held or lost); ``gross_minor`` the sum as
    paid. ``first_gift_at`` is their first payment in any currency, the same on each of
    their rows. ``recurring_status`` and ``frequency`` are those of their most recently
    started recurring support (empty when they have none). A supporter with no payment
    yet has one row with an empty currency and zero totals.
    """
    return csv_lines(SUPPORTER_COLUMNS, _supporter_cells())


def _payment_cells(start: datetime | None, end: datetime | None) -> Iterator[Sequence[Cell]]:
    query = select(Payment, Supporter.email).outerjoin(
        Supporter, Payment.supporter_id == Supporter.id
    )
    if start is not None:
        query = query.where(Payment.paid_at >= start)
    if end is not None:
        query = query.where(Payment.paid_at < end)
    query = query.order_by(
        Payment.paid_at, Payment.stripe_payment_intent_id, Payment.stripe_invoice_id, Payment.id
    ).execution_options(yield_per=BATCH_SIZE)
    for payment, email in db.session.execute(query):
        yield (
            payment.stripe_payment_intent_id or payment.stripe_invoice_id,
            payment.stripe_invoice_id,
            payment.stripe_subscription_id,
            email,
            payment.amount_minor,
            payment.amount_refunded_minor,
            payment.amount_disputed_minor,
            payment.net_minor,
            payment.currency,
            payment.status,
            payment.frequency,
            iso_utc(payment.paid_at),
            payment.source,
            payment.utm_source,
            payment.utm_medium,
            payment.utm_campaign,
            payment.utm_content,
        )


def _supporter_cells() -> Iterator[Sequence[Cell]]:
    # Rows come one per payment, grouped by supporter; totals are added up here so that
    # "net" keeps its one definition (Payment.net_minor).
    latest = _latest_recurring()
    query = (
        select(Supporter.id, Supporter.email, latest.c.status, latest.c.frequency, Payment)
        .select_from(Supporter)
        .outerjoin(Payment, Payment.supporter_id == Supporter.id)
        .outerjoin(latest, and_(latest.c.supporter_id == Supporter.id, latest.c.rank == 1))
        .order_by(Supporter.email, Supporter.id, Payment.paid_at, Payment.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    for _, group in itertools.groupby(db.session.execute(query), key=lambda row: row.id):
        first = next(group)
        first_gift_at = iso_utc(first.Payment.paid_at) if first.Payment is not None else None
        totals: dict[str, tuple[int, int]] = {}
        for row in itertools.chain([first], group):
            payment: Payment | None = row.Payment
            if payment is not None:
                net, gross = totals.get(payment.currency, (0, 0))
                totals[payment.currency] = (net + payment.net_minor, gross + payment.amount_minor)
        supporter = (first.email, first_gift_at)
        recurring = (first.status, first.frequency)
        if not totals:
            yield (*supporter, 0, 0, None, *recurring)
        for currency in sorted(totals):
            yield (*supporter, *totals[currency], currency, *recurring)


def _latest_recurring() -> Subquery:
    """Each supporter's recurring supports, ranked 1 for the most recently started.

    One whose start Stripe has not reported yet counts from when we first heard of it;
    two started in the same second, by Stripe's subscription id (not by arrival).
    """
    started = func.coalesce(RecurringSupport.started_at, RecurringSupport.created_at)
    rank = func.row_number().over(
        partition_by=RecurringSupport.supporter_id,
        order_by=(started.desc(), RecurringSupport.stripe_subscription_id.desc()),
    )
    return (
        select(
            RecurringSupport.supporter_id,
            RecurringSupport.status,
            RecurringSupport.frequency,
            rank.label("rank"),
        )
        .where(RecurringSupport.supporter_id.is_not(None))
        .subquery()
    )


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The header, then each row, as CSV text lines (minimal quoting, ``\\r\\n``), a cell a
    spreadsheet would read as a formula prefixed with a quote; one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # minimal quoting, "\r\n" after each row
    for row in itertools.chain([header], rows):
        writer.writerow([_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: Cell) -> str | int:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def iso_utc(moment: datetime) -> str:
    """A moment as the exports write it: ISO 8601 UTC to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)
