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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, func, insert, select, text

from membership import clock
from membership.demo import seed as ledger_path
from membership.demo.histories import Failure, Gift, History, histories
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
from membership.reports.models import MonthlyRevenue, MonthlySource, RecurringFlow
from membership.sql.rows import Row

BATCH_HISTORIES = 20_000
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
ROLLUP_TABLES = tuple(m.__table__ for m in (MonthlyRevenue, MonthlySource, RecurringFlow))
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
    """The ids the ledger's inserts would get in an empty database, in its order."""

    def __init__(self) -> None:
        self.next = Counter[str]()

    def __call__(self, table: str) -> int:
        self.next[table] += 1
        return self.next[table]


class _Rollups:
    """The rollups' sums, gathered by shape: a payment's contribution depends on its month,
    not its moment, so ten million payments are a few hundred thousand calls."""

    def __init__(self) -> None:
        self.payments: Counter[tuple[Any, ...]] = Counter()
        self.attempts: Counter[tuple[Any, ...]] = Counter()
        self.recurring: list[dict[str, Any]] = []

    def deltas(self) -> rollups.Deltas:
        deltas = rollups.Deltas()
        for shape, count in self.payments.items():
            values = _month_values(rollups.PAYMENT_FIELDS, shape)
            deltas.add(rollups.payment_contributions(values), count)
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


def _payment_shape(payment: dict[str, Any]) -> tuple[Any, ...]:
    moment = payment["paid_at"]
    return (moment.year, moment.month, *_PAYMENT_REST(payment))


def _attempt_shape(attempt: dict[str, Any]) -> tuple[Any, ...]:
    moment = attempt["created_at"]
    return (moment.year, moment.month, *_ATTEMPT_REST(attempt))


def _month_values(fields: tuple[str, ...], shape: tuple[Any, ...]) -> dict[str, Any]:
    """A shape as the values a contribution function reads, its moment a month's start."""
    year, month, *rest = shape
    return dict(zip(fields, (datetime(year, month, 1, tzinfo=UTC), *rest), strict=True))


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
    for n, opened in enumerate(history.attempts):
        attempt = {
            "id": opened.id,
            "frequency": history.kind,
            "amount_minor": history.amount_minor,
            "currency": history.currency,
            **attribution,
            "stripe_session_id": opened.session_id,
            "status": "paid" if n == 0 else "expired",
            "reminder_id": None,
            "supporter_id": supporter_id if n == 0 else None,
            "created_at": opened.created_at,
        }
        rows.add(CheckoutAttempt.__table__, attempt)
        sums.attempts[_attempt_shape(attempt)] += 1
    paid_attempt = history.attempts[0].id
    support = None
    if history.kind != "once":
        support = _recurring_start(history, ids("recurring_supports"), supporter_id, now)
        support.values.update(checkout_attempt_id=paid_attempt, **attribution)
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
            recurring.mark_past_due(support, event.failed_at)
            continue
        payment = _payment(history, event, ids("payments"), supporter_id, now, support)
        payment.update(checkout_attempt_id=paid_attempt, **attribution)
        rows.add(Payment.__table__, payment)
        sums.payments[_payment_shape(payment)] += 1
        if event.adjustment is not None:
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
        rows.add(Reminder.__table__, _reminder(history, ids("reminders")))


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


def _payment(
    history: History,
    gift: Gift,
    payment_id: int,
    supporter_id: int,
    now: datetime,
    support: Row | None,
) -> dict[str, Any]:
    adjustment = gift.adjustment
    payment = _row(
        Payment.__table__,
        {
            "id": payment_id,
            "stripe_payment_intent_id": gift.payment_intent_id,
            "stripe_invoice_id": gift.invoice_id,
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
            "paid_at": gift.paid_at,
            "created_at": now,
        },
    )
    if adjustment is not None:
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
    plan = _Plan(supporter_count, payment_count, seed_value, run or secrets.token_hex(4))
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

    def batches(
        self, summary: BulkSummary, sums: _Rollups, ids: _Numbering
    ) -> Iterator[tuple[dict[str, list[tuple[Any, ...]]], int]]:
        """Rows per table name, ``BATCH_HISTORIES`` stories at a time, and how many so far."""
        now = clock.now()
        stories = histories(
            self.supporters, self.payments, seed_value=self.seed_value, run=self.run, now=now
        )
        rows = _Rows()
        for history in stories:
            rows_of(history, ids, now, rows, sums)
            summary.supporters += 1
            summary.payments += history.payments
            summary.recurring += history.kind != "once"
            summary.attempts += len(history.attempts)
            summary.reminders += history.reminder is not None
            if summary.supporters % BATCH_HISTORIES == 0:
                yield {t.name: v for t, v in rows.by_table.items()}, summary.supporters
                rows = _Rows()
        if len(rows):
            yield {t.name: v for t, v in rows.by_table.items()}, summary.supporters


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
    by_name = {table.name: table for table in TABLES}
    for rows, done in plan.batches(summary, sums, ids):
        for name, values in rows.items():
            if values:
                table = by_name[name]
                names = [c.name for c in table.columns]
                db.session.execute(
                    insert(table), [dict(zip(names, v, strict=True)) for v in values]
                )
        db.session.commit()
        if progress is not None:
            progress(done)
    return summary, sums, dict(ids.next)


# PostgreSQL ---------------------------------------------------------------------------------


def _produce(plan: _Plan, queue: Any) -> None:
    """In a child process: the batches, then the summary, the rollups and the last ids."""
    summary, sums, ids = BulkSummary(), _Rollups(), _Numbering()
    try:
        for batch in plan.batches(summary, sums, ids):
            queue.put(batch)
        queue.put((summary, sums, dict(ids.next)))
    except BaseException as exc:  # the parent re-raises it
        queue.put(exc)
        raise


def _copy_postgresql(
    plan: _Plan, progress: Callable[[int], None] | None
) -> tuple[BulkSummary, _Rollups, dict[str, int]]:
    """One transaction: the tables' secondary indexes and constraints set aside, each batch
    ``COPY ... FREEZE``d in while a child process makes the next, then the indexes built
    and the constraints checked once, over all rows (the way ``pg_restore`` loads). A
    failure anywhere rolls everything back, indexes included."""
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
    queue = context.Queue(maxsize=2)
    producer = context.Process(target=_produce, args=(plan, queue), daemon=True)
    producer.start()
    try:
        while True:
            item = queue.get()
            if isinstance(item, BaseException):
                raise item
            if not isinstance(item[0], dict):
                summary, sums, last_ids = item
                break
            rows, done = item
            for name, values in rows.items():
                if values:
                    copy_sql = f"COPY {name} ({columns[name]}) FROM STDIN (FREEZE)"
                    with cursor.copy(copy_sql) as copy:
                        for row in values:
                            copy.write_row(row)
            if progress is not None:
                progress(done)
    finally:
        producer.join(timeout=5)
        if producer.is_alive():
            producer.kill()
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for statement in rebuild:
        connection.exec_driver_sql(statement)
    db.session.commit()
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
