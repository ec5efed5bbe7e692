"""CSV exports of the ledger: payments and supporters, streamed a batch of rows at a time.

Each export is a generator of CSV text, whole lines at a time (the header first,
``\\r\\n`` endings, minimal quoting), that reads the database in batches, so
``flask export`` and the staff pages can write or stream any number of rows without
holding them in memory.
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
from typing import Any

from sqlalchemy import BigInteger, String, Subquery, and_, case, cast, func, literal, select

from membership.extensions import db
from membership.models import Payment, RecurringSupport, Supporter

BATCH_SIZE = 1000
CHUNK_SIZE = 64 * 1024
# PostgreSQL's memory for each hash and sort of an export's query, for its transaction
# alone. With the default (4 MB) the payments in time order fetch each one's supporter
# through the index, a random read per row, and the export crawls; with this much the
# supporters' emails fit one hash (two million: about 160 MB), read once, and the time
# order is a parallel sort.
EXPORT_WORK_MEM = "256MB"

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
    return _payment_lines(start, end)


def supporter_rows() -> Iterator[str]:
    """CSV lines, one per supporter and currency they gave in, ordered by email then currency.

    ``lifetime_minor`` is the sum of the net amounts of their payments in that currency
    (after refunds, and disputed money while held or lost); ``gross_minor`` the sum as
    paid. ``first_gift_at`` is their first payment in any currency, the same on each of
    their rows. ``recurring_status`` and ``frequency`` are those of their most recently
    started recurring support (empty when they have none). A supporter with no payment
    yet has one row with an empty currency and zero totals.
    """
    if db.engine.dialect.name == "postgresql":
        yield from csv_lines(SUPPORTER_COLUMNS, [])
        yield from _copied_lines(_supporters_query(as_csv=True))
    else:
        query = _supporters_query().execution_options(stream_results=True)
        yield from csv_lines(SUPPORTER_COLUMNS, db.session.connection().execute(query))


def _payment_lines(start: datetime | None, end: datetime | None) -> Iterator[str]:
    """The header line, then the payments' lines a batch at a time.

    Ten million rows at 100,000 a second leave 10 us a row, so the database does what it
    can: the row comes in the file's column order, net computed by ``Payment.net_minor``'s
    rule (the dashboard's sums use the same), the time already written as text. On
    PostgreSQL it writes the CSV too (``_copied_lines``); elsewhere Python quotes what a
    spreadsheet would run and writes each batch (``_written_lines``)."""
    yield from csv_lines(PAYMENT_COLUMNS, [])
    if db.engine.dialect.name == "postgresql":
        yield from _copied_lines(_payments_query(start, end, as_csv=True))
    else:
        yield from _written_lines(_payments_query(start, end))


def _written_lines(query: Any) -> Iterator[str]:
    """The query's rows written by ``csv.writer``, ``BATCH_SIZE`` at a time, the reader
    text columns guarded; read through a server-side cursor, so memory holds one batch."""
    connection = db.session.connection()
    result = connection.execute(query.execution_options(stream_results=True))
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # minimal quoting, "\r\n" after each row
    guarded = _READER_TEXT
    for batch in result.partitions(BATCH_SIZE):
        rows = []
        for row in batch:
            cells = list(row)
            for i in guarded:
                value = cells[i]
                if value and value.startswith(_FORMULA_STARTS):
                    cells[i] = "'" + value
            rows.append(cells)
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _copied_lines(query: Any) -> Iterator[str]:
    """The query's rows as PostgreSQL's ``COPY ... (FORMAT csv)`` writes them, ``BATCH_SIZE``
    lines at a time, each ended ``\r\n`` as ``csv.writer`` ends it.

    Byte for byte what ``csv.writer`` makes of the same cells when the query leaves no
    empty text (``COPY`` quotes an empty string to tell it from NULL: ``_as_cell``) and
    has more than one column: both quote a cell holding the delimiter, a quote or a line
    break, and double its quotes (``tests/reports/test_export.py`` compares the two). The
    database then writes the file, and this process only passes the text on; a plain
    ``COPY`` also runs without a cursor, so its plan may use parallel workers."""
    connection = db.session.connection()
    compiled = query.compile(
        dialect=connection.dialect, compile_kwargs={"render_postcompile": True}
    )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"SET LOCAL work_mem = '{EXPORT_WORK_MEM}'")
    with cursor.copy(f"COPY ({compiled}) TO STDOUT (FORMAT csv)", compiled.params) as copy:
        # PostgreSQL sends each row in a message of its own, ended by "\n".
        rows = iter(copy)
        while batch := list(itertools.islice(rows, BATCH_SIZE)):
            data = b"".join(batch)
            if data.count(b"\n") == len(batch):  # no line break inside a cell
                data = data.replace(b"\n", b"\r\n")
            else:
                data = b"".join(bytes(row)[:-1] + b"\r\n" for row in batch)
            yield data.decode()


# Columns whose text comes from readers or links (an email, an article URL, UTM values):
# the rest are Stripe's ids, numbers and our own words.
_READER_TEXT = tuple(
    PAYMENT_COLUMNS.index(name)
    for name in ("email", "source", "utm_source", "utm_medium", "utm_campaign", "utm_content")
)


def _payments_query(start: datetime | None, end: datetime | None, as_csv: bool = False) -> Any:
    """The export's cells in order; ``as_csv``: text as ``COPY`` should write it
    (``_as_cell``), for ``_copied_lines``."""
    p = Payment.__table__.c
    paid_at = _utc_text(p.paid_at)
    cells = [
        func.coalesce(p.stripe_payment_intent_id, p.stripe_invoice_id),
        p.stripe_invoice_id,
        p.stripe_subscription_id,
        Supporter.email,
        p.amount_minor,
        p.amount_refunded_minor,
        p.amount_disputed_minor,
        Payment.net_minor,
        p.currency,
        p.status,
        p.frequency,
        paid_at,
        p.source,
        p.utm_source,
        p.utm_medium,
        p.utm_campaign,
        p.utm_content,
    ]
    if as_csv:
        cells = [
            _as_cell(cell, guarded=i in _READER_TEXT) if isinstance(cell.type, String) else cell
            for i, cell in enumerate(cells)
        ]
    query = select(*cells).outerjoin(Supporter, p.supporter_id == Supporter.id)
    if start is not None:
        query = query.where(p.paid_at >= start)
    if end is not None:
        query = query.where(p.paid_at < end)
    return query.order_by(p.paid_at, p.stripe_payment_intent_id, p.stripe_invoice_id, p.id)


def _as_cell(text: Any, *, guarded: bool) -> Any:
    """A text cell as ``_cell`` writes it, in SQL: empty as NULL (which ``COPY`` writes
    as nothing, where it writes an empty string as ``""``), and when ``guarded`` a quote
    before what a spreadsheet would read as a formula."""
    if not guarded:
        return func.nullif(text, "")
    return case(
        (text == "", None),
        (func.left(text, 1).in_(_FORMULA_STARTS), literal("'") + text),
        else_=text,
    )


def _supporters_query(as_csv: bool = False) -> Any:
    """One row per supporter and currency, totals added up by the database with
    ``Payment.net_minor``'s rule (as the payments export and the dashboard do), ordered
    by email then currency; ``as_csv`` as ``_payments_query``'s."""
    p = Payment.__table__.c
    totals = (
        select(
            p.supporter_id,
            p.currency,
            func.min(p.paid_at).label("first_paid_at"),
            func.sum(Payment.net_minor).label("net"),
            func.sum(p.amount_minor).label("gross"),
        )
        .where(p.supporter_id.is_not(None))
        .group_by(p.supporter_id, p.currency)
        .subquery()
    )
    latest = _latest_recurring()
    first_gift_at = func.min(totals.c.first_paid_at).over(partition_by=Supporter.id)
    cells: list[Any] = [
        Supporter.email,
        _utc_text(first_gift_at),
        cast(func.coalesce(totals.c.net, 0), BigInteger),
        cast(func.coalesce(totals.c.gross, 0), BigInteger),
        totals.c.currency,
        latest.c.status,
        latest.c.frequency,
    ]
    if as_csv:  # csv_lines guards every text cell
        cells = [
            _as_cell(cell, guarded=True) if isinstance(cell.type, String) else cell
            for cell in cells
        ]
    return (
        select(*cells)
        .select_from(Supporter)
        .outerjoin(totals, totals.c.supporter_id == Supporter.id)
        .outerjoin(latest, and_(latest.c.supporter_id == Supporter.id, latest.c.rank == 1))
        .order_by(Supporter.email, Supporter.id, totals.c.currency)
    )


def _utc_text(moment: Any) -> Any:
    """A stored moment as the exports write it (``iso_utc``), in SQL."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", moment), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return func.strftime("%Y-%m-%dT%H:%M:%SZ", moment)  # stored as naive UTC text


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
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def in_chunks(lines: Iterable[str], size: int = CHUNK_SIZE) -> Iterator[str]:
    """The lines joined into pieces of about ``size`` characters: a download or a pipe
    then takes one write per piece, not one per line."""
    pending: list[str] = []
    length = 0
    for line in lines:
        pending.append(line)
        length += len(line)
        if length >= size:
            yield "".join(pending)
            pending.clear()
            length = 0
    if pending:
        yield "".join(pending)


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)
