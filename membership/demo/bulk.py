"""Demo data by the million: the rows the ledger would write for ``histories``, in bulk.

Recording ten million payments through the ledger one fact at a time takes hours; this
computes, for each story, the rows that path leaves (with the ledger's own pure rules:
``recurring.apply_state``, ``mark_past_due``, ``note_paid``, ``payments.payment_status``)
and writes them straight in: PostgreSQL ``COPY ... FREEZE`` in one transaction (rows
born visible to every later reader, so no vacuum pass is needed before index-only
scans), batches of Core ``INSERT`` on SQLite. The report rollups are added up on the
way from the same contribution functions the live path uses
(``membership.reports.rollups``), one call per distinct shape of row rather than per row.

``tests/reports/test_bulk_demo.py`` holds it equal to ``membership.demo.seed`` (the
ledger path) on a sample: the same rows, ids included, and the same rollups.

Only into an empty ledger (it numbers rows from 1): ``flask demo seed --bulk``.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from queue import Empty
from typing import Any

# The row formatter ``Copy.write_row`` uses (C in psycopg's binary package): not public, so
# tests/reports/test_bulk_demo.py on PostgreSQL is what notices if it moves.
from psycopg._copy_base import format_row_text
from psycopg.adapt import Transformer
from sqlalchemy import Table, func, insert, select, text

from membership import clock
from membership.demo import seed as ledger_path
from membership.demo.histories import (
    Failure,
    Gift,
    History,
    SeedRefused,
    block_bounds,
    block_count,
    block_histories,
)
from membership.extensions import db
from membership.ledger import payments, recurring
from membership.models import (
    ChargeAdjustment,
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    Supporter,
)
from membership.reminders.models import Reminder
from membership.reports import rollups
from membership.sql.rows import Row

# Parents before children: the order rows are written in.
TABLES: tuple[Table, ...] = tuple(
    model.__table__
    for model in (
        Supporter,
        CheckoutAttempt,
        RecurringSupport,
        Payment,
        ChargeAdjustment,
        PaymentFailure,
        Reminder,
    )
)
ROLLUP_TABLES = tuple(m.__table__ for m in rollups.ROLLUP_MODELS)
ATTRIBUTION = ("source", "utm_source", "utm_medium", "utm_campaign", "utm_content")


class NotEmpty(RuntimeError):
    """Bulk rows are numbered from 1: the ledger must be empty."""


@dataclass
class BulkSummary:
    supporters: int = 0
    payments: int = 0
    recurring: int = 0
    attempts: int = 0
    reminders: int = 0

    def count(self, history: History) -> None:
        self.supporters += 1
        self.payments += history.payments
        self.recurring += history.kind != "once"
        self.attempts += len(history.attempts)
        self.reminders += history.reminder is not None

    def add(self, other: BulkSummary) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


class _Rows:
    """Rows waiting to be written, per table, as tuples in the table's column order."""

    def __init__(self) -> None:
        self.by_table: dict[Table, list[tuple[Any, ...]]] = {table: [] for table in TABLES}

    def add(self, table: Table, values: dict[str, Any]) -> None:
        """A row; a column left out gets its default, a value for no column is an error."""
        blank, in_order = _shape(table)
        row = blank.copy()
        row.update(values)
        if len(row) != len(blank):
            raise KeyError(f"{table.name}: no column for {sorted(set(row) - set(blank))}")
        self.by_table[table].append(in_order(row))

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.by_table.values())


class _Numbering:
    """The ids the ledger's inserts would get in an empty database, in its order, after
    ``taken`` (the ids of the blocks before: see ``_Board``)."""

    def __init__(self, taken: Counter[str] | None = None) -> None:
        self.next = Counter[str](taken)

    def __call__(self, table: str) -> int:
        self.next[table] += 1
        return self.next[table]


class _Rollups:
    """The rollups' sums, gathered by shape: a payment's contribution depends on its month,
    not its moment, so ten million payments are a few hundred thousand calls (its day's
    revenue on its day and the few fields that revenue reads: ``days``)."""

    def __init__(self) -> None:
        self.payments: Counter[tuple[Any, ...]] = Counter()
        self.days: Counter[tuple[Any, ...]] = Counter()
        self.attempts: Counter[tuple[Any, ...]] = Counter()
        self.recurring: list[dict[str, Any]] = []
        self.failures: Counter[tuple[Any, ...]] = Counter()
        self.reminders: Counter[tuple[Any, ...]] = Counter()

    def merge(self, other: _Rollups) -> None:
        """Add another generating process's sums to these."""
        for name, mine in vars(self).items():
            theirs = getattr(other, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                mine.extend(theirs)

    def deltas(self) -> rollups.Deltas:
        deltas = rollups.Deltas()
        for shape, count in self.payments.items():
            values = _month_values(rollups.PAYMENT_FIELDS, shape)
            deltas.add(rollups.payment_month_contributions(values), count)
        for (year, month, day, *rest), count in self.days.items():
            values = dict(zip(_DAY_FIELDS, rest, strict=True))
            values["paid_at"] = datetime(year, month, day, tzinfo=UTC)
            deltas.add(rollups.payment_day_contributions(values), count)
        for shape, count in self.failures.items():
            values = _month_values(rollups.FAILURE_FIELDS, shape)
            deltas.add(rollups.failure_contributions(values), count)
        for months, count in self.reminders.items():
            values = {
                time: datetime(month[0], month[1], 1, tzinfo=UTC) if month else None
                for time, month in zip(rollups.REMINDER_FIELDS, months, strict=True)
            }
            deltas.add(rollups.reminder_contributions(values), count)
        for shape, count in self.attempts.items():
            values = _month_values(rollups.ATTEMPT_FIELDS, shape)
            deltas.add(rollups.attempt_contributions(values), count)
        for values in self.recurring:
            deltas.add(rollups.recurring_contributions(values), 1)
        return deltas


def _blank(table: Table) -> dict[str, Any]:
    """Each column's default as an insert would give it (a scalar default, else NULL)."""
    return {
        column.name: getattr(column.default, "arg", None)
        if column.default is not None and column.default.is_scalar
        else None
        for column in table.columns
    }


@cache
def _shape(table: Table) -> tuple[dict[str, Any], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """The table's blank row, and what reads a row's values in column order."""
    return _blank(table), itemgetter(*(column.name for column in table.columns))


def _row(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    return {**_shape(table)[0], **values}


# What a row's contributions depend on: its month (UTC) and the other fields counted.
_PAYMENT_REST = itemgetter(*rollups.PAYMENT_FIELDS[1:])
_ATTEMPT_REST = itemgetter(*rollups.ATTEMPT_FIELDS[1:])
# What a payment's day's revenue reads besides its day.
_DAY_FIELDS = rollups.PAYMENT_DAY_FIELDS[1:]
_DAY_REST = itemgetter(*_DAY_FIELDS)


def _payment_shape(payment: dict[str, Any]) -> tuple[Any, ...]:
    moment = payment["paid_at"]
    return (moment.year, moment.month, *_PAYMENT_REST(payment))


def _day_shape(payment: dict[str, Any]) -> tuple[Any, ...]:
    moment = payment["paid_at"]
    return (moment.year, moment.month, moment.day, *_DAY_REST(payment))


def _reminder_months(reminder: dict[str, Any]) -> tuple[tuple[int, int] | None, ...]:
    """The (year, month) of each time a reminder is counted by, None for one it lacks."""
    return tuple(
        (moment.year, moment.month) if (moment := reminder[time]) is not None else None
        for time in rollups.REMINDER_FIELDS
    )


def _month_values(fields: tuple[str, ...], shape: tuple[Any, ...]) -> dict[str, Any]:
    """A shape as the values a contribution function reads, its moment a month's start."""
    year, month, *rest = shape
    return dict(zip(fields, (datetime(year, month, 1, tzinfo=UTC), *rest), strict=True))


class _Template:
    """A story's rows of one table: the columns they share filled once, in column order,
    so that each row only supplies the columns that differ (``varying``, in that order).
    A story's payments differ in four columns of twenty-three: building a whole mapping
    per payment was most of the bulk path's time."""

    __slots__ = ("_shared", "_in_order")

    def __init__(self, table: Table, shared: dict[str, Any], varying: tuple[str, ...]) -> None:
        blank, _ = _shape(table)
        row = blank.copy()
        row.update(shared)
        if len(row) != len(blank):
            raise KeyError(f"{table.name}: no column for {sorted(set(row) - set(blank))}")
        shared_getter, self._in_order = _template_getters(table, varying)
        self._shared = shared_getter(row)

    def row(self, *varying: Any) -> tuple[Any, ...]:
        """The row in column order: the shared values, and ``varying`` in their columns."""
        return self._in_order(self._shared + varying)


@cache
def _template_getters(
    table: Table, varying: tuple[str, ...]
) -> tuple[
    Callable[[dict[str, Any]], tuple[Any, ...]], Callable[[tuple[Any, ...]], tuple[Any, ...]]
]:
    """What reads the shared columns from a row mapping, and what puts shared values
    followed by varying ones back in column order."""
    names = [column.name for column in table.columns]
    shared = [name for name in names if name not in varying]
    source = [*shared, *varying]
    return itemgetter(*shared), itemgetter(*(source.index(name) for name in names))


_ATTEMPT_VARYING = ("id", "stripe_session_id", "status", "supporter_id", "created_at")
_PAYMENT_VARYING = ("id", "stripe_payment_intent_id", "stripe_invoice_id", "paid_at")


def rows_of(history: History, ids: _Numbering, now: datetime, rows: _Rows, sums: _Rollups) -> None:
    """The rows the ledger path (``seed.record``) leaves for one story, added to ``rows``."""
    supporter_id = ids("supporters")
    rows.add(
        Supporter.__table__,
        {
            "id": supporter_id,
            "email": history.email,
            "stripe_customer_id": history.customer_id,
            "created_at": now,
            "email_as_of": None,
        },
    )
    attribution = {**dict.fromkeys(ATTRIBUTION), **history.attribution}
    shared = {
        "frequency": history.kind,
        "amount_minor": history.amount_minor,
        "currency": history.currency,
        **attribution,
        "reminder_id": None,
    }
    attempts = _Template(CheckoutAttempt.__table__, shared, _ATTEMPT_VARYING)
    attempt_rows = rows.by_table[CheckoutAttempt.__table__]
    # An attempt's rollup shape is its month, then fields shared but for its status.
    rest = {status: _ATTEMPT_REST({**shared, "status": status}) for status in ("paid", "expired")}
    for n, opened in enumerate(history.attempts):
        status = "paid" if n == 0 else "expired"
        moment = opened.created_at
        attempt_rows.append(
            attempts.row(
                opened.id, opened.session_id, status, supporter_id if n == 0 else None, moment
            )
        )
        sums.attempts[(moment.year, moment.month, *rest[status])] += 1
    paid_attempt = history.attempts[0].id
    support = None
    if history.kind != "once":
        support = _recurring_start(history, ids("recurring_supports"), supporter_id, now)
        support.values.update(checkout_attempt_id=paid_attempt, **attribution)
    # A payment with neither refund nor dispute is the template with four columns filled.
    template = _payment_template(history, supporter_id, now, support, paid_attempt)
    plain = _Template(Payment.__table__, template, _PAYMENT_VARYING)
    plain_rest = _PAYMENT_REST(template)
    day_rest = _DAY_REST(template)
    payment_rows = rows.by_table[Payment.__table__]
    for event in history.events:
        if isinstance(event, Failure):
            assert support is not None
            rows.add(
                PaymentFailure.__table__,
                {
                    "id": ids("payment_failures"),
                    "stripe_invoice_id": event.invoice_id,
                    "attempt_count": 1,
                    "stripe_subscription_id": history.subscription_id,
                    "stripe_customer_id": history.customer_id,
                    "recurring_support_id": support["id"],
                    "supporter_id": supporter_id,
                    "amount_minor": history.amount_minor,
                    "currency": history.currency,
                    "failed_at": event.failed_at,
                },
            )
            failed = event.failed_at  # the shape of the row just added (FAILURE_FIELDS)
            sums.failures[(failed.year, failed.month, history.currency, history.amount_minor)] += 1
            recurring.mark_past_due(support, event.failed_at)
            continue
        if event.adjustment is None:
            moment = event.paid_at
            payment_rows.append(
                plain.row(ids("payments"), event.payment_intent_id, event.invoice_id, moment)
            )
            sums.payments[(moment.year, moment.month, *plain_rest)] += 1
            sums.days[(moment.year, moment.month, moment.day, *day_rest)] += 1
        else:
            payment = _adjusted_payment(template, history, event, ids("payments"))
            rows.add(Payment.__table__, payment)
            sums.payments[_payment_shape(payment)] += 1
            sums.days[_day_shape(payment)] += 1
            rows.add(ChargeAdjustment.__table__, _adjustment(event))
        if support is not None:
            recurring.note_paid(support, event.paid_at)
            if support["status"] == "past_due":
                recurring.apply_state(
                    support, ledger_path.active_state_as_of(history, event.paid_at)
                )
    if support is not None:
        if history.canceled_at is not None:
            recurring.apply_state(support, ledger_path.canceled_state(history))
        rows.add(RecurringSupport.__table__, support.values)
        sums.recurring.append({f: support[f] for f in rollups.RECURRING_FIELDS})
    if history.reminder is not None:
        reminder = _reminder(history, ids("reminders"))
        rows.add(Reminder.__table__, reminder)
        sums.reminders[_reminder_months(reminder)] += 1


def _recurring_start(history: History, support_id: int, supporter_id: int, now: datetime) -> Row:
    """``get_or_create_recurring`` then ``customer.subscription.created``'s state, as a
    ``Row`` the ledger's own rules then move (never saved: its values are copied)."""
    values = _row(
        RecurringSupport.__table__,
        {
            "id": support_id,
            "stripe_subscription_id": history.subscription_id,
            "stripe_customer_id": history.customer_id,
            "supporter_id": supporter_id,
            "frequency": None,
            "amount_minor": None,
            "currency": None,
            "status": "incomplete",
            "cancel_at_period_end": False,
            "started_at": None,
            "canceled_at": None,
            "ended_at": None,
            "status_as_of": None,
            "created_at": now,
            "first_paid_at": None,
        },
    )
    support = Row(RecurringSupport.__table__, values, stored=False)
    recurring.apply_state(support, ledger_path.active_state(history))
    return support


def _payment_template(
    history: History, supporter_id: int, now: datetime, support: Row | None, attempt_id: str
) -> dict[str, Any]:
    """What a story's payments share: one with neither refund nor dispute, its id, intent,
    invoice and moment left to each gift."""
    attribution = {**dict.fromkeys(ATTRIBUTION), **history.attribution}
    return _row(
        Payment.__table__,
        {
            "id": None,
            "stripe_payment_intent_id": None,
            "stripe_invoice_id": None,
            "stripe_subscription_id": history.subscription_id if support is not None else None,
            "stripe_customer_id": history.customer_id,
            "supporter_id": supporter_id,
            "recurring_support_id": support["id"] if support is not None else None,
            "frequency": history.kind,
            "stripe_price_id": None,
            "amount_minor": history.amount_minor,
            "amount_refunded_minor": 0,
            "amount_disputed_minor": 0,
            "currency": history.currency,
            "status": "succeeded",
            "dispute_status": None,
            "paid_at": None,
            "created_at": now,
            "checkout_attempt_id": attempt_id,
            **attribution,
        },
    )


def _adjusted_payment(
    template: dict[str, Any], history: History, gift: Gift, payment_id: int
) -> dict[str, Any]:
    """A refunded or disputed gift's payment, its status by the ledger's rule."""
    adjustment = gift.adjustment
    assert adjustment is not None
    payment = {
        **template,
        "id": payment_id,
        "stripe_payment_intent_id": gift.payment_intent_id,
        "stripe_invoice_id": gift.invoice_id,
        "paid_at": gift.paid_at,
    }
    held = _held(adjustment.dispute_status, adjustment.disputed_minor)
    payment["amount_refunded_minor"] = min(adjustment.refunded_minor, history.amount_minor)
    payment["amount_disputed_minor"] = held
    payment["dispute_status"] = adjustment.dispute_status
    payment["status"] = payments.payment_status(payment)
    return payment


def _held(status: str | None, amount: int) -> int:
    return amount if status in payments.FUNDS_HELD_DISPUTES else 0


def _adjustment(gift: Gift) -> dict[str, Any]:
    adjustment = gift.adjustment
    assert adjustment is not None
    return {
        "stripe_payment_intent_id": gift.payment_intent_id,
        "stripe_charge_id": adjustment.charge_id,
        "amount_refunded_minor": adjustment.refunded_minor,
        "dispute_status": adjustment.dispute_status,
        "amount_disputed_minor": _held(adjustment.dispute_status, adjustment.disputed_minor),
        "dispute_as_of": adjustment.as_of,
    }


def _reminder(history: History, reminder_id: int) -> dict[str, Any]:
    values = ledger_path.reminder_values(history)
    values.update(
        id=reminder_id,
        next_attempt_at=None,
        claimed_at=None,
        claimed_by=None,
        last_error=None,
        email_erased_at=None,
    )
    return values


# -- Writing ---------------------------------------------------------------------------------


def load(
    supporter_count: int,
    payment_count: int,
    *,
    seed_value: int = 1,
    run: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkSummary:
    """Write ``supporter_count`` stories with ``payment_count`` payments into an empty
    ledger, and their rollups; ``progress(supporters_done)`` is called after each batch.
    Raises ``NotEmpty`` when the ledger already holds a row, ``SeedRefused`` for numbers
    that make no sense."""
    _refuse_unless_empty()
    if supporter_count < 1 or payment_count < supporter_count:
        raise SeedRefused("give at least one supporter and at least one payment per supporter")
    run = run or secrets.token_hex(4)
    plan = _Plan(supporter_count, payment_count, seed_value, run, clock.now())
    if db.engine.dialect.name == "postgresql":
        summary, sums, last_ids = _copy_postgresql(plan, progress)
    else:
        summary, sums, last_ids = _insert_sqlite(plan, progress)
    sums.deltas().write()
    db.session.commit()
    _after_load(last_ids)
    return summary


@dataclass(frozen=True)
class _Plan:
    supporters: int
    payments: int
    seed_value: int
    run: str
    now: datetime

    @property
    def blocks(self) -> int:
        return block_count(self.supporters)

    def rows(self, block: int, ids: _Numbering, sums: _Rollups, summary: BulkSummary) -> _Rows:
        """The rows of one block of stories (``histories.block_histories``)."""
        return self.rows_of_stories(self.stories(block), ids, sums, summary)

    def stories(self, block: int) -> list[History]:
        return block_histories(
            block,
            self.supporters,
            self.payments,
            seed_value=self.seed_value,
            run=self.run,
            now=self.now,
        )

    def rows_of_stories(
        self, stories: list[History], ids: _Numbering, sums: _Rollups, summary: BulkSummary
    ) -> _Rows:
        rows = _Rows()
        for history in stories:
            rows_of(history, ids, self.now, rows, sums)
            summary.count(history)
        return rows

    def done(self, block: int) -> int:
        """How many stories the blocks up to ``block`` hold."""
        return block_bounds(block, self.supporters)[1]


def _refuse_unless_empty() -> None:
    for table in (*TABLES, *ROLLUP_TABLES):
        if db.session.scalar(select(func.count()).select_from(table)):
            raise NotEmpty(
                f"{table.name} already has rows: bulk demo data goes into an empty database "
                "(without --bulk, demo data is added through the ledger)"
            )


def _insert_sqlite(
    plan: _Plan, progress: Callable[[int], None] | None
) -> tuple[BulkSummary, _Rollups, dict[str, int]]:
    summary, sums, ids = BulkSummary(), _Rollups(), _Numbering()
    for block in range(plan.blocks):
        for table, values in plan.rows(block, ids, sums, summary).by_table.items():
            if values:
                names = [c.name for c in table.columns]
                db.session.execute(
                    insert(table), [dict(zip(names, v, strict=True)) for v in values]
                )
        db.session.commit()
        if progress is not None:
            progress(plan.done(block))
    return summary, sums, dict(ids.next)


# PostgreSQL ---------------------------------------------------------------------------------

# Processes making rows while the parent copies them in: on two cores, two of them keep
# both busy (PostgreSQL and the parent take less than a third of the time).
GENERATORS = 2
# The tables ``rows_of`` numbers, in the order of ``_Board``'s counts.
NUMBERED = ("supporters", "recurring_supports", "payment_failures", "payments", "reminders")


def _numbered(stories: list[History]) -> Counter[str]:
    """How many ids of each table ``rows_of`` gives these stories."""
    counts = Counter[str]()
    for history in stories:
        failures = sum(isinstance(event, Failure) for event in history.events)
        counts["supporters"] += 1
        counts["recurring_supports"] += history.kind != "once"
        counts["payment_failures"] += failures
        counts["payments"] += len(history.events) - failures
        counts["reminders"] += history.reminder is not None
    return counts


class _Board:
    """Shared by the generating processes: each block's count of ids per table, published
    as soon as its stories are drawn, so that a block's rows are numbered after those of
    every block before it (as the ledger, one story after another, would number them)
    without waiting for those rows to be made."""

    def __init__(self, context: Any, blocks: int) -> None:
        self._counts = context.Array("q", blocks * len(NUMBERED), lock=False)
        self._published = context.Array("b", blocks, lock=False)
        self._changed = context.Condition()

    def taken_before(self, block: int, counts: Counter[str]) -> Counter[str]:
        """Publish ``block``'s counts; wait for every earlier block's; return their sums."""
        with self._changed:
            for i, table in enumerate(NUMBERED):
                self._counts[block * len(NUMBERED) + i] = counts[table]
            self._published[block] = 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: all(self._published[:block]))
        return self.totals(block)

    def totals(self, blocks: int) -> Counter[str]:
        """The ids the first ``blocks`` blocks take, per table."""
        taken = Counter[str]()
        for i, table in enumerate(NUMBERED):
            taken[table] = sum(self._counts[b * len(NUMBERED) + i] for b in range(blocks))
        return taken


def _produce(plan: _Plan, first: int, board: _Board, queue: Any) -> None:
    """In a child process: every ``GENERATORS``-th block from ``first``, as ``COPY`` text,
    then the summary and the rollups' sums. The rows are formatted here (by psycopg's own
    row formatter) so that the parent only passes bytes on: tuples crossing the pipe cost
    more to pickle and unpickle than to format."""
    summary, sums = BulkSummary(), _Rollups()
    transformer = Transformer()
    try:
        for block in range(first, plan.blocks, GENERATORS):
            stories = plan.stories(block)
            counts = _numbered(stories)
            taken = board.taken_before(block, counts)
            ids = _Numbering(taken)
            rows = plan.rows_of_stories(stories, ids, sums, summary)
            if ids.next != taken + counts:
                raise AssertionError(f"block {block}: _numbered disagrees with rows_of")
            as_text = {}
            for table, values in rows.by_table.items():
                buffer = bytearray()
                for row in values:
                    format_row_text(row, transformer, buffer)
                as_text[table.name] = bytes(buffer)
            queue.put((block, as_text))
        queue.put((summary, sums))
    except BaseException as exc:  # the parent re-raises it
        queue.put(exc)
        raise


def _received(queue: Any, producer: Any) -> Any:
    """The next item a generating process sent; its exception raised here."""
    while True:
        try:
            item = queue.get(timeout=1)
        except Empty:
            if not producer.is_alive():
                raise RuntimeError("a generating process ended without a word") from None
            continue
        if isinstance(item, BaseException):
            raise item
        return item


def _copy_postgresql(
    plan: _Plan, progress: Callable[[int], None] | None
) -> tuple[BulkSummary, _Rollups, dict[str, int]]:
    """One transaction: the tables' secondary indexes and constraints set aside, each block
    ``COPY ... FREEZE``d in, in order, while child processes make the next ones, then the
    indexes built and the constraints checked once, over all rows (the way ``pg_restore``
    loads). A failure anywhere rolls everything back, indexes included."""
    connection = db.session.connection()
    truncated = _referencing(TABLES)
    for table in truncated:
        if table not in TABLES and db.session.scalar(select(func.count()).select_from(table)):
            raise NotEmpty(f"{table.name} already has rows: bulk demo data needs an empty database")
    # Empty already (checked): truncated in this transaction, the tables may take FREEZE.
    connection.exec_driver_sql("TRUNCATE " + ", ".join(t.name for t in truncated))
    rebuild = _set_aside_indexes(connection, [t.name for t in TABLES])
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    columns = {t.name: ", ".join(c.name for c in t.columns) for t in TABLES}
    context = multiprocessing.get_context("fork")
    board = _Board(context, plan.blocks)
    queues = [context.Queue(maxsize=2) for _ in range(GENERATORS)]
    producers = [
        context.Process(target=_produce, args=(plan, n, board, queues[n]), daemon=True)
        for n in range(GENERATORS)
    ]
    for producer in producers:
        producer.start()
    summary, sums = BulkSummary(), _Rollups()
    try:
        for block in range(plan.blocks):
            n = block % GENERATORS
            made, rows = _received(queues[n], producers[n])
            assert made == block, f"block {made} arrived for {block}"
            for name, data in rows.items():
                if data:
                    copy_sql = f"COPY {name} ({columns[name]}) FROM STDIN (FREEZE)"
                    with cursor.copy(copy_sql) as copy:
                        copy.write(data)
            if progress is not None:
                progress(plan.done(block))
        for n, queue in enumerate(queues):
            their_summary, their_sums = _received(queue, producers[n])
            summary.add(their_summary)
            sums.merge(their_sums)
    finally:
        for producer in producers:
            producer.join(timeout=5)
            if producer.is_alive():
                producer.kill()
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for statement in rebuild:
        connection.exec_driver_sql(statement)
    db.session.commit()
    last_ids = {table: n for table, n in board.totals(plan.blocks).items() if n}
    return summary, sums, last_ids


def _set_aside_indexes(connection: Any, tables: list[str]) -> list[str]:
    """Drop the tables' foreign keys, unique constraints and secondary indexes (not their
    primary keys, nor what another table's foreign key relies on); return the statements
    that make them again, exactly as they were, indexes first."""
    constraints = connection.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype "
            "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(:tables) "
            "AND c.contype IN ('f', 'u') AND NOT EXISTS (SELECT 1 FROM pg_constraint r "
            "WHERE r.contype = 'f' AND r.conindid = c.conindid AND c.contype = 'u') "
            "ORDER BY c.contype DESC"
        ),
        {"tables": tables},
    ).all()
    indexes = connection.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid::regclass::text = ANY(:tables) "
            "AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        {"tables": tables},
    ).all()
    for table, name, _, _ in constraints:
        connection.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        connection.exec_driver_sql(f"DROP INDEX {name}")
    unique = [c for c in constraints if c[3] == "u"]
    foreign = [c for c in constraints if c[3] == "f"]
    return [
        *(definition for _, definition in indexes),
        *(f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d, _ in (*unique, *foreign)),
    ]


def _referencing(tables: Sequence[Table]) -> list[Table]:
    """``tables`` and every table with a foreign key to one of them (TRUNCATE needs all)."""
    found = list(tables)
    for table in db.metadata.sorted_tables:
        if table not in found and any(fk.column.table in found for fk in table.foreign_keys):
            found.append(table)
    return found


def _after_load(last_ids: dict[str, int]) -> None:
    """Sequences past the ids written (PostgreSQL), and fresh statistics for the planner."""
    if db.engine.dialect.name != "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return
    for table, last in last_ids.items():
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :last)"),
            {"last": last},
        )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in (*TABLES, *ROLLUP_TABLES):
            conn.execute(text(f"ANALYZE {table.name}"))
