"""Keeping the report rollups (``membership.reports.models``) equal to the ledger.

Query strategy: the reports read only the rollup tables (a few rows per month or day),
never the million payments. Each rollup row is a sum of *contributions*: a payment adds
its amounts to its month and its day, currency and frequency (and to its source), a
recurring support adds one to its (start month, end month) cell, a checkout attempt adds
one to its source's attempts, a failed collection attempt one to its month's failures,
a reminder one to the months it was asked for, sent and converted in. When a row of the
ledger changes, its old contribution is taken away and the new one added, in the same
transaction, with ``INSERT ... ON CONFLICT DO UPDATE`` on each rollup row that moves
(none when nothing that counts changed). In a ledger transaction (a webhook) the moves
are gathered and written once, just before it commits (``hooks.committing``): a row moved
twice is written once, and on PostgreSQL the tables take one statement and their hot rows
stay locked only until the commit.

How changes reach this module:

- the ledger writes rows with its own statements (``membership.sql``) and announces
  every payment, recurring support, checkout attempt and payment failure it inserts or
  updates, with the row's values before and after (``membership.ledger.hooks.row_written``);
  the reminders announce their sign-ups, sends and conversions alike
  (``membership.reminders.counted``);
- ORM changes (anything added with ``session.add``) are seen at flush time by a
  ``before_flush`` listener, which compares each changed row's values before and after;
- the support flow's checkout attempt, the one write a surge of readers makes at once,
  is stored with its counts in one statement (``insert_counted``).

Bulk loads that bypass both (``benchmarks/``) run ``rebuild`` afterwards, and
``flask reports rebuild-rollups`` repairs the tables from the ledger at any time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Text,
    bindparam,
    cast,
    column,
    event,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, UOWTransaction

from membership.database import begin_sqlite_transaction, sqlite_writer_turn
from membership.extensions import db
from membership.ledger import hooks
from membership.models import CheckoutAttempt, Payment, PaymentFailure, RecurringSupport
from membership.reminders import counted
from membership.reminders.models import Reminder
from membership.reports.models import (
    DailyRevenue,
    MonthlyFailures,
    MonthlyReminders,
    MonthlyRevenue,
    MonthlySource,
    RecurringFlow,
)
from membership.sql import statements
from membership.vocabulary import (
    DISPUTE_HOLDS_MONEY,
    ENDED_STATUSES,
    NEVER_STARTED_STATUSES,
    RECURRING_FREQUENCIES,
)

PAYMENT_FIELDS = (
    "paid_at",
    "currency",
    "frequency",
    "amount_minor",
    "amount_refunded_minor",
    "amount_disputed_minor",
    "status",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
RECURRING_FIELDS = (
    "first_paid_at",
    "status",
    "ended_at",
    "canceled_at",
    "status_as_of",
    "currency",
    "frequency",
    "amount_minor",
)
ATTEMPT_FIELDS = (
    "created_at",
    "currency",
    "status",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
# What a payment's day's revenue reads (``payment_day_contributions``): fewer than its
# month's, which also counts its sources.
PAYMENT_DAY_FIELDS = (
    "paid_at",
    "currency",
    "frequency",
    "amount_minor",
    "amount_refunded_minor",
    "amount_disputed_minor",
    "status",
)
FAILURE_FIELDS = ("failed_at", "currency", "amount_minor")
REMINDER_FIELDS = ("created_at", "sent_at", "converted_at")
_TRACKED = {Payment: PAYMENT_FIELDS, RecurringSupport: RECURRING_FIELDS}
_TRACKED[CheckoutAttempt] = ATTEMPT_FIELDS
_TRACKED[PaymentFailure] = FAILURE_FIELDS
_TRACKED[Reminder] = REMINDER_FIELDS


class Contribution(NamedTuple):
    """What one ledger row adds to one rollup row: the row's key and the sums added.

    A named tuple: several are built for every payment a webhook writes, inside the
    writer's turn on SQLite, and a frozen dataclass took four times as long to build."""

    model: Any
    key: tuple[str | int, ...]
    sums: Mapping[str, int]


# -- Contributions: the one definition of what each ledger row counts for -----------------


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) a moment belongs to, as ``YYYY-MM``."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def day_of(moment: datetime) -> str:
    """The calendar day (UTC) a moment belongs to, as ``YYYY-MM-DD``."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


SOURCE_DIMENSIONS = ("source", "utm_source", "utm_medium", "utm_campaign")


def _by_source(
    month: str, currency: str, values: Mapping[str, Any], sums: Mapping[str, int]
) -> list[Contribution]:
    """The same sums under each source dimension (article, utm_source, medium, campaign)."""
    return [
        Contribution(MonthlySource, (month, currency, dimension, values.get(dimension) or ""), sums)
        for dimension in SOURCE_DIMENSIONS
    ]


def payment_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """A payment counts in the month and on the day it was paid, in its currency, net of
    refunds and of disputed money while a dispute holds it or was lost."""
    return [*payment_month_contributions(values), *payment_day_contributions(values)]


def payment_month_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """What a payment adds to its month: revenue, and revenue under each source. (Apart
    from its day's, which the bulk demo path adds up by day rather than by month.)"""
    sums = _payment_sums(values)
    if sums is None:
        return []
    month, currency = month_of(values["paid_at"]), values["currency"].upper()
    return [
        Contribution(MonthlyRevenue, (month, currency, values.get("frequency") or ""), sums),
        *_by_source(month, currency, values, sums),
    ]


def payment_day_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """What a payment adds to its day's revenue (the sums of its month's revenue row)."""
    sums = _payment_sums(values)
    if sums is None:
        return []
    key = (day_of(values["paid_at"]), values["currency"].upper(), values.get("frequency") or "")
    return [Contribution(DailyRevenue, key, sums)]


def _payment_sums(values: Mapping[str, Any]) -> dict[str, int] | None:
    if values.get("paid_at") is None or not values.get("currency"):
        return None
    held = (values["amount_disputed_minor"] or 0) if values["status"] in DISPUTE_HOLDS_MONEY else 0
    return {
        "payments": 1,
        "gross_minor": values["amount_minor"] or 0,
        "refunded_minor": values["amount_refunded_minor"] or 0,
        "disputed_minor": held,
    }


def recurring_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """A recurring support counts from its first paid invoice, with known terms: one
    support in the cell of that month and its end month (``""`` while it goes on). A trial
    counts from when it is first paid, not from its start; one that ends unpaid never."""
    started = values.get("first_paid_at")
    if (
        started is None
        or values.get("status") in NEVER_STARTED_STATUSES
        or values.get("frequency") not in RECURRING_FREQUENCIES
        or not values.get("currency")
    ):
        return []
    end_month, lasted = "", -1
    if values["status"] in ENDED_STATUSES:
        ended = values.get("ended_at") or values.get("canceled_at") or values.get("status_as_of")
        ended = max(ended or started, started)
        end_month, lasted = month_of(ended), whole_months_between(started, ended)
    key = (month_of(started), end_month, lasted, values["currency"].upper(), values["frequency"])
    return [
        Contribution(
            RecurringFlow, key, {"supports": 1, "amount_minor": values["amount_minor"] or 0}
        )
    ]


def attempt_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """A press of Continue counts in its source's attempts; once paid, also as a conversion."""
    if values.get("created_at") is None or not values.get("currency"):
        return []
    sums = {"attempts": 1, "attempts_paid": 1 if values.get("status") == "paid" else 0}
    return _by_source(month_of(values["created_at"]), values["currency"].upper(), values, sums)


def failure_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """A failed attempt to collect a recurring gift counts in the month it failed, in its
    currency, with its amount."""
    if values.get("failed_at") is None or not values.get("currency"):
        return []
    key = (month_of(values["failed_at"]), values["currency"].upper())
    sums = {"failures": 1, "amount_minor": values["amount_minor"] or 0}
    return [Contribution(MonthlyFailures, key, sums)]


# A reminder's times and the rollup column each is counted in.
_REMINDER_TIMES = (("created_at", "asked"), ("sent_at", "sent"), ("converted_at", "converted"))


def reminder_contributions(values: Mapping[str, Any]) -> list[Contribution]:
    """A reminder counts as asked for in the month of its ``created_at``, as sent in that
    of its ``sent_at`` and as converted in that of its ``converted_at``, once it has each."""
    return [
        Contribution(MonthlyReminders, (month_of(values[time]),), {counted: 1})
        for time, counted in _REMINDER_TIMES
        if values.get(time) is not None
    ]


def whole_months_between(start: datetime, end: datetime) -> int:
    """Whole months from ``start`` to ``end``: Jan 15 to Feb 14 is 0, to Feb 15 is 1."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    months = (end.year - start.year) * 12 + end.month - start.month
    if (end.day, end.time()) < (start.day, start.time()):
        months -= 1
    return max(months, 0)


_CONTRIBUTIONS: dict[Any, Any] = {
    Payment: payment_contributions,
    RecurringSupport: recurring_contributions,
    CheckoutAttempt: attempt_contributions,
    PaymentFailure: failure_contributions,
    Reminder: reminder_contributions,
}
# The tables whose rows the ledger writes with its own statements (``hooks.row_written``).
_LEDGER_TABLES = (Payment, RecurringSupport, CheckoutAttempt, PaymentFailure)
_CONTRIBUTIONS_BY_TABLE = {model.__table__: _CONTRIBUTIONS[model] for model in _LEDGER_TABLES}


# -- Applying deltas ------------------------------------------------------------------------


class Deltas:
    """Changes to rollup rows, added up per row before they are written."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, tuple[str | int, ...]], dict[str, int]] = {}

    def add(self, contributions: Iterable[Contribution], sign: int) -> None:
        for c in contributions:
            row = self.rows.get((c.model, c.key))
            if row is None:
                row = self.rows[(c.model, c.key)] = defaultdict(int)
            for name, value in c.sums.items():
                row[name] += sign * value

    def change(self, before: list[Contribution], after: list[Contribution]) -> None:
        if before != after:
            self.add(before, -1)
            self.add(after, +1)

    def by_model(self) -> dict[Any, list[dict[str, Any]]]:
        """The rollup rows that really change, per table, in key order (so concurrent
        transactions take their row locks in the same order: no deadlock on PostgreSQL);
        forgotten here once taken."""
        by_model: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for (model, key), sums in sorted(self.rows.items(), key=_table_then_key):
            if not any(sums.values()):
                continue
            keys = dict(zip(_key_columns(model), key, strict=True))
            by_model[model].append({**_zero_sums(model), **keys, **sums})
        self.rows.clear()
        return by_model

    def write(self) -> None:
        """Upsert every rollup row that really changes (nothing when none does)."""
        by_model = self.by_model()
        if by_model:
            _write_rows(by_model)


def _write_rows(by_model: Mapping[Any, list[dict[str, Any]]]) -> None:
    """Upsert these rows (adding their sums): on PostgreSQL in one statement for all the
    tables, on SQLite one per table."""
    dialect = statements.connection().dialect.name
    if dialect == "postgresql":
        _upsert_all_postgresql(_models_of(by_model)).run(rows=_as_json(by_model))
        return
    for model, params in by_model.items():
        _upsert(dialect, model).run_many(params)


def _table_then_key(item: tuple[tuple[Any, tuple[str | int, ...]], Any]) -> tuple[Any, ...]:
    (model, key), _ = item
    return (model.__tablename__, *key)


@cache
def _key_columns(model: Any) -> tuple[str, ...]:
    return tuple(column.key for column in model.__table__.primary_key.columns)


_SUM_COLUMNS = {
    MonthlyRevenue: ("payments", "gross_minor", "refunded_minor", "disputed_minor"),
    DailyRevenue: ("payments", "gross_minor", "refunded_minor", "disputed_minor"),
    MonthlyFailures: ("failures", "amount_minor"),
    MonthlyReminders: ("asked", "sent", "converted"),
    RecurringFlow: ("supports", "amount_minor"),
    MonthlySource: (
        "payments",
        "gross_minor",
        "refunded_minor",
        "disputed_minor",
        "attempts",
        "attempts_paid",
    ),
}


def _zero_sums(model: Any) -> dict[str, Any]:
    return dict.fromkeys(_SUM_COLUMNS[model], 0)


@cache
def _upsert(dialect: str, model: Any) -> statements.Statement:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET sum = sum + excluded.sum``, built once."""
    table = model.__table__
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return statements.Statement(
        statement.on_conflict_do_update(
            index_elements=_key_columns(model),
            set_={c: table.c[c] + statement.excluded[c] for c in _SUM_COLUMNS[model]},
        )
    )


# The tables in table order (that of ``_table_then_key``), each with its columns.
ROLLUP_MODELS = (
    DailyRevenue,
    MonthlyFailures,
    MonthlyReminders,
    MonthlyRevenue,
    MonthlySource,
    RecurringFlow,
)


def _columns(model: Any) -> tuple[str, ...]:
    return (*_key_columns(model), *_SUM_COLUMNS[model])


def _models_of(by_model: Mapping[Any, list[dict[str, Any]]]) -> tuple[Any, ...]:
    """The tables a write moves, in table order."""
    return tuple(model for model in ROLLUP_MODELS if model in by_model)


def _as_json(by_model: Mapping[Any, list[dict[str, Any]]]) -> str:
    """The rows to upsert, as ``{"<table>": [{column: value}, ...]}``."""
    return json.dumps({model.__tablename__: rows for model, rows in by_model.items()})


@cache
def _upsert_all_postgresql(models: tuple[Any, ...]) -> statements.Statement:
    """One ``INSERT ... SELECT FROM jsonb_to_recordset(...) ON CONFLICT DO UPDATE`` per
    table, the others as data-modifying CTEs of the first, all reading one JSON
    parameter: a transaction's rollups cost one round trip and one parameter, however many
    rows and tables they move. An array parameter per column instead cost more to convert
    than the statement took to run. Built once for each set of tables a write moves (a
    checkout attempt moves one table, a payment three), so that a write does not plan and
    run the tables it leaves alone."""
    rows = cast(bindparam("rows", type_=Text), JSONB)
    first, *others = (_upsert_from_json(model, rows) for model in models)
    return statements.Statement(
        first.add_cte(*(other.cte(f"rollup_{n}") for n, other in enumerate(others, start=1)))
    )


def _upsert_from_json(model: Any, rows: Any) -> Any:
    table = model.__table__
    columns = _columns(model)
    recordset = (
        func.jsonb_to_recordset(rows.op("->")(literal(table.name, Text)))
        .table_valued(*(column(c, table.c[c].type) for c in columns))
        .render_derived(name="r", with_types=True)
    )
    statement = postgresql.insert(table).from_select(
        columns, select(*(recordset.c[c] for c in columns))
    )
    return statement.on_conflict_do_update(
        index_elements=_key_columns(model),
        set_={c: table.c[c] + statement.excluded[c] for c in _SUM_COLUMNS[model]},
    )


def insert_counted(obj: Any) -> None:
    """Insert one new row the rollups count (the support flow's checkout attempt) with its
    rollup counts, committed at once.

    On PostgreSQL every reader who came from the same article moves the same rollup row
    (its source's attempts), and a transaction that moves a row holds its lock until it
    commits. Through the ORM the lock was held across two round trips to the app, whose
    threads each wait their turn for the interpreter lock: in a surge the Continues
    queued behind one another on that row (sampled in ``pg_stat_activity`` during
    ``benchmarks/surge.py``: three in four of the app's sessions were waiting for it).
    Here the row and its counts are one statement run in a transaction of its own
    (autocommit), so the lock is held only while PostgreSQL runs and commits it. On
    SQLite, whose writers take turns anyway, the ORM's flush counts it as any other row.
    """
    model = type(obj)
    if db.engine.dialect.name != "postgresql":
        with sqlite_writer_turn(db.session):
            db.session.add(obj)
            db.session.commit()
        return
    table = model.__table__
    _fill_defaults(obj, (c.key for c in table.columns))
    deltas = Deltas()
    deltas.add(_CONTRIBUTIONS[model](_current(obj, _TRACKED[model])), +1)
    values = {c.key: getattr(obj, c.key) for c in table.columns}
    insert = postgresql.insert(table).values(
        {key: value for key, value in values.items() if value is not None}
    )
    by_model = deltas.by_model()
    statement = (
        _upsert_all_postgresql(_models_of(by_model)).statement.add_cte(
            insert.cte(f"inserted_{table.name}")
        )
        if by_model
        else insert
    )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(statement, {"rows": _as_json(by_model)} if by_model else {})


# -- Watching the ledger ---------------------------------------------------------------------


def connect() -> None:
    """Keep the rollups equal to the ledger from now on: subscribe to the ledger's writes
    (``hooks.row_written``, ``hooks.committing``), the reminders' (``counted.sign_up_answered``,
    ``counted.times_set``) and the ORM's flushes. Called by
    ``reports.init_app``; connecting again changes nothing."""
    for table in _CONTRIBUTIONS_BY_TABLE:
        hooks.row_written.connect(_move_contributions, sender=table)
    hooks.committing.connect(_write_pending)
    counted.sign_up_answered.connect(_count_sign_up)
    counted.times_set.connect(_count_times_set)
    if not event.contains(Session, "before_flush", _count_orm_changes):
        event.listen(Session, "before_flush", _count_orm_changes)
        _remember_old_values()


def _move_contributions(
    table: Any, *, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> None:
    """Move a ledger row's contributions as the ledger writes it: in a ledger transaction
    once, just before it commits (``_write_pending``), else at once."""
    contributions = _CONTRIBUTIONS_BY_TABLE[table]
    gathering = statements.in_ledger_transaction()
    deltas = _pending(statements.connection()) if gathering else Deltas()
    if before is None:
        deltas.add(contributions(after), +1)
    else:
        deltas.change(contributions(before), contributions(after))
    if deltas.rows and not gathering:
        deltas.write()


def _count_sign_up(sender: Any, *, reminder: Mapping[str, Any], inserted: bool) -> None:
    """A reminder sign-up was answered (``reminders.counted.sign_up_answered``): one more
    asked for in its month if it inserted a reminder, else the same upsert adding nothing,
    so that the database does the same work for every sign-up (its timing must not tell
    a stranger whether an address has a reminder)."""
    by_model: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for c in reminder_contributions(reminder):
        sums = {name: value if inserted else 0 for name, value in c.sums.items()}
        keys = dict(zip(_key_columns(c.model), c.key, strict=True))
        by_model[c.model].append({**_zero_sums(c.model), **keys, **sums})
    _write_rows(by_model)


def _count_times_set(sender: Any, *, rows: list[Mapping[str, Any]], time: str) -> None:
    """Reminders had ``time`` set (``reminders.counted.times_set``): each counts in that
    time's month, all of them in one write (gathered until the commit in a ledger
    transaction, as ``_move_contributions`` does)."""
    gathering = statements.in_ledger_transaction()
    deltas = _pending(statements.connection()) if gathering else Deltas()
    for after in rows:
        before = {**after, time: None}
        deltas.change(reminder_contributions(before), reminder_contributions(after))
    if deltas.rows and not gathering:
        deltas.write()


# Connection.info key: (the transaction, the deltas it will write before it commits).
_PENDING = "membership.pending_rollups"


def _pending(connection: Connection) -> Deltas:
    """The deltas the connection's current transaction has gathered so far."""
    return statements.of_transaction(connection, _PENDING, Deltas)


def _write_pending(connection: Connection) -> None:
    """Write what the committing transaction gathered. A rollup row its changes move
    several times (a gift and its checkout attempt both count under the same source) is
    written once, and on PostgreSQL the row locks are held only from here to the commit."""
    deltas = statements.pop_of_transaction(connection, _PENDING)
    if deltas is not None:
        deltas.write()


def _count_orm_changes(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    """Move the contributions of every tracked row the ORM is about to write."""
    deltas = Deltas()
    for obj in session.new:
        contributions = _CONTRIBUTIONS.get(type(obj))
        if contributions is not None:
            _fill_defaults(obj, _TRACKED[type(obj)])
            deltas.add(contributions(_current(obj, _TRACKED[type(obj)])), +1)
    for obj in session.dirty:
        contributions = _CONTRIBUTIONS.get(type(obj))
        if contributions is not None and session.is_modified(obj):
            before, after = _before_and_after(obj, _TRACKED[type(obj)])
            deltas.change(contributions(before), contributions(after))
    for obj in session.deleted:
        contributions = _CONTRIBUTIONS.get(type(obj))
        if contributions is not None:
            deltas.add(contributions(_before_and_after(obj, _TRACKED[type(obj)])[0]), -1)
    if deltas.rows:
        deltas.write()


def _fill_defaults(obj: Any, fields: Iterable[str]) -> None:
    """Give a new row the column defaults it would get at INSERT (``created_at=now``)
    now, so that what is counted is what is written."""
    columns = obj.__table__.columns
    for field in fields:
        default = columns[field].default
        if getattr(obj, field) is None and default is not None:
            value = default.arg if default.is_scalar else default.arg(None)
            setattr(obj, field, value)


def _current(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {field: getattr(obj, field) for field in fields}


def _before_and_after(obj: Any, fields: Iterable[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each field's value as last written to the database, and as it is now."""
    attrs = inspect(obj).attrs
    before, after = {}, {}
    for field in fields:
        history = attrs[field].load_history()
        if history.deleted:
            before[field] = history.deleted[0]
            after[field] = history.added[0] if history.added else None
        else:
            now = getattr(obj, field)
            before[field] = after[field] = now
    return before, after


def _remember_old_values() -> None:
    """Make the ORM load a tracked column's old value before it is overwritten, so the
    flush listener can take the old contribution away even if the row was expired."""
    for model, fields in _TRACKED.items():
        for field in fields:
            event.listen(getattr(model, field), "set", _ignore, active_history=True)


def _ignore(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
    return None


# -- Rebuilding from the ledger --------------------------------------------------------------

REBUILD_BATCH = 5000


def rebuild() -> dict[str, int]:
    """Make every rollup equal to the ledger again, without stopping anyone: returns how
    many ledger rows were read per kind. Uses the same contributions as the live path, so
    a rebuild and the live upkeep can only agree or reveal a missed hook.

    The ledger and the rollups are read in one snapshot (REPEATABLE READ on PostgreSQL, a
    read transaction on SQLite), long as it may take, with no lock: webhooks and Continue
    go on meanwhile. What the rollups lacked or had too much *in that snapshot* is then
    added as deltas (``sum = sum + delta``), in a short transaction of the caller's. A
    payment committed after the snapshot is absent from both sides of the difference, and
    its own upsert counts it: exactly once, in any interleaving. Usually nothing differs,
    and nothing is written."""
    deltas = Deltas()
    with db.engine.connect() as snapshot:
        if snapshot.dialect.name == "postgresql":
            snapshot = snapshot.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.begin():
            begin_sqlite_transaction(snapshot)  # SQLite: one snapshot for every read
            counts = {
                "payments": _add_all(
                    snapshot, deltas, Payment, PAYMENT_FIELDS, payment_contributions
                ),
                "recurring_supports": _add_all(
                    snapshot, deltas, RecurringSupport, RECURRING_FIELDS, recurring_contributions
                ),
                "checkout_attempts": _add_all(
                    snapshot, deltas, CheckoutAttempt, ATTEMPT_FIELDS, attempt_contributions
                ),
                "payment_failures": _add_all(
                    snapshot, deltas, PaymentFailure, FAILURE_FIELDS, failure_contributions
                ),
                "reminders": _add_all(
                    snapshot, deltas, Reminder, REMINDER_FIELDS, reminder_contributions
                ),
            }
            for model in ROLLUP_MODELS:
                _take_away_live(snapshot, deltas, model)
    deltas.write()
    return counts


def _take_away_live(snapshot: Connection, deltas: Deltas, model: Any) -> None:
    """Subtract what a rollup table holds in the snapshot: what is left is the repair."""
    keys, sums = _key_columns(model), _SUM_COLUMNS[model]
    table = model.__table__
    query = select(*(table.c[c] for c in (*keys, *sums)))
    for row in snapshot.execute(query).mappings():
        key = tuple(row[c] for c in keys)
        deltas.add([Contribution(model, key, {c: row[c] for c in sums})], -1)


def _add_all(
    snapshot: Connection, deltas: Deltas, model: Any, fields: Iterable[str], contributions: Any
) -> int:
    count = 0
    for row in _stream(snapshot, model, fields):
        deltas.add(contributions(row), +1)
        count += 1
    return count


def _stream(snapshot: Connection, model: Any, fields: Iterable[str]) -> Iterator[Any]:
    table = model.__table__
    query = select(*(table.c[f] for f in fields)).execution_options(yield_per=REBUILD_BATCH)
    yield from snapshot.execute(query).mappings()
