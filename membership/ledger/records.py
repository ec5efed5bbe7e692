"""Ledger rows read and written one prepared statement at a time.

The webhook path runs inside the database's write lock, so every statement and
every microsecond of Python there is paid by all the events queued behind it.
The ledger therefore works on plain rows: it reads the row an event is about,
decides in Python, and writes back only the columns that changed, in one
statement (or inserts the whole row at once).

Statements are written with SQLAlchemy Core and compiled once per database
(``Prepared``); each execution then goes straight to the DBAPI cursor with
SQLAlchemy's own type conversions. SQLAlchemy's per-execution machinery (cache
keys, parameter construction, result objects) cost four times the statement
itself on SQLite, and was most of an event's processing time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, exists, insert, select, union_all, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from membership.database import (
    begin_sqlite_transaction,
    insert_ignoring_conflicts,
    ledger_connection,
)
from membership.extensions import db

Processor = Callable[[Any], Any] | None


def connection() -> Connection:
    """The connection of the ledger transaction (``run_ledger_transaction``), or else of the
    session's current transaction (demo data, tests calling the ledger directly)."""
    return ledger_connection.get() or db.session.connection()


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for one dialect, with its parameters' and columns' conversions."""

    sql: str
    positional: bool
    names: tuple[str, ...]
    defaults: dict[str, Any]
    bind_processors: tuple[tuple[str, Processor], ...]
    columns: tuple[tuple[str, Processor], ...]


class Prepared:
    """A Core statement (no IN lists: write them out) compiled once per dialect and run
    straight on the connection's DBAPI cursor, inside its current transaction."""

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        names = dict(compiled.bind_names)  # BindParameter -> name in the SQL
        processors = {}  # by name: a parameter used twice is converted once
        for parameter, name in names.items():
            processor = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        columns = tuple(
            (column.key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in getattr(self.statement, "exported_columns", ())
        )
        return _Compiled(
            sql=compiled.string,
            positional=compiled.positional,
            names=tuple(compiled.positiontup or ()),
            defaults={name: p.value for p, name in names.items() if not p.required},
            bind_processors=tuple(processors.items()),
            columns=columns,
        )

    def _prepare(self) -> tuple[Connection, _Compiled, Any]:
        """The transaction's connection, this statement compiled for it, and a cursor."""
        conn = connection()
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        if not conn.in_transaction():
            conn.begin()
        return conn, compiled, _cursor(conn)

    @staticmethod
    def _arguments(compiled: _Compiled, params: dict[str, Any]) -> Any:
        values = {**compiled.defaults, **params}
        for name, processor in compiled.bind_processors:
            values[name] = processor(values[name])  # type: ignore[misc]
        if compiled.positional:
            return tuple(values[name] for name in compiled.names)
        return values

    def _execute(self, params: dict[str, Any]) -> Any:
        conn, compiled, cursor = self._prepare()
        _call_driver(conn, cursor.execute, compiled.sql, self._arguments(compiled, params))
        return compiled, cursor

    def rows(self, **params: Any) -> list[dict[str, Any]]:
        compiled, cursor = self._execute(params)
        fetched = cursor.fetchall()
        _finish(cursor)
        return [_row(compiled.columns, row) for row in fetched]

    def first(self, **params: Any) -> dict[str, Any] | None:
        compiled, cursor = self._execute(params)
        row = cursor.fetchone()
        _finish(cursor)
        return _row(compiled.columns, row) if row is not None else None

    def scalar(self, **params: Any) -> Any:
        row = self.first(**params)
        return next(iter(row.values())) if row else None

    def run(self, **params: Any) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        _, cursor = self._execute(params)
        count: int = cursor.rowcount
        _finish(cursor)
        return count

    def run_many(self, rows: list[dict[str, Any]]) -> None:
        """Execute a statement that returns no rows once per parameter set, in one call."""
        conn, compiled, cursor = self._prepare()
        arguments = [self._arguments(compiled, params) for params in rows]
        _call_driver(conn, cursor.executemany, compiled.sql, arguments)
        _finish(cursor)


# Connection.info key: (the DBAPI connection, a cursor of it that every statement reuses).
_CURSOR = "membership.ledger_cursor"


def _cursor(conn: Connection) -> Any:
    """A driver cursor for one statement. On PostgreSQL one per DBAPI connection, reused:
    a new psycopg cursor for every statement (each with its own copy of the type
    adapters) was 3% of the instructions the webhook path spends in the app there, and a
    psycopg cursor holds nothing on the server once its results are read. On SQLite a new
    one, in a transaction begun in SQLite: the ledger's reads are those of its write."""
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        begin_sqlite_transaction(conn)
        return driver.cursor()
    entry = conn.info.get(_CURSOR)
    if entry is None or entry[0] is not driver:
        entry = conn.info[_CURSOR] = (driver, driver.cursor())  # type: ignore[union-attr]
    return entry[1]


def _finish(cursor: Any) -> None:
    """Close a SQLite cursor: a statement not stepped to its end would keep the connection
    reading (holding its WAL snapshot) after the commit, even back in the pool."""
    if isinstance(cursor, sqlite3.Cursor):
        cursor.close()


def _call_driver(
    conn: Connection, call: Callable[[str, Any], Any], sql: str, arguments: Any
) -> None:
    """Run one driver call, raising the driver's errors as SQLAlchemy's (IntegrityError, the
    OperationalError of a deadlock, ...) as SQLAlchemy itself would."""
    try:
        call(sql, arguments)
    except conn.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            sql,
            arguments,
            error,
            conn.dialect.loaded_dbapi.Error,
            hide_parameters=conn.engine.hide_parameters,  # emails, names, payloads: never logged
            dialect=conn.dialect,
        ) from error


def _row(columns: tuple[tuple[str, Processor], ...], row: Any) -> dict[str, Any]:
    return {
        key: processor(value) if processor is not None else value
        for (key, processor), value in zip(columns, row, strict=True)
    }


Watcher = Callable[[dict[str, Any] | None, dict[str, Any]], None]
_WATCHERS: dict[Table, list[Watcher]] = {}


def watch(table: Table, watcher: Watcher) -> None:
    """Call ``watcher(before, after)`` in the writing transaction whenever the ledger inserts
    (``before`` is None) or updates a row of ``table`` (the report rollups keep up this way;
    see ``before_commit`` for writes that can wait until the transaction ends)."""
    _WATCHERS.setdefault(table, []).append(watcher)


def _written(table: Table, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    for watcher in _WATCHERS.get(table, ()):
        watcher(before, after)


_BEFORE_COMMIT: list[Callable[[Connection], None]] = []


def before_commit(write: Callable[[Connection], None]) -> None:
    """Call ``write(connection)`` whenever a ledger transaction is about to commit (``commit``):
    for writes a watcher gathers over the transaction and makes once, at the end."""
    _BEFORE_COMMIT.append(write)


def commit(connection: Connection) -> None:
    """Commit a ledger transaction, after the writes that wait for its end."""
    for write in _BEFORE_COMMIT:
        write(connection)
    connection.commit()


S = TypeVar("S")


def of_transaction(connection: Connection, key: str, new: Callable[[], S]) -> S:
    """State the connection's current transaction keeps under ``key`` (in
    ``connection.info``), made by ``new()`` on first use in each transaction: what an
    earlier transaction left there (rolled back, or run again after a conflict) is never
    seen by a later one."""
    transaction = connection.get_transaction()
    entry = connection.info.get(key)
    if entry is None or entry[0] is not transaction:
        entry = connection.info[key] = (transaction, new())
    state: S = entry[1]
    return state


def pop_of_transaction(connection: Connection, key: str) -> Any | None:
    """Take the state ``of_transaction`` keeps for the current transaction, if any."""
    entry = connection.info.pop(key, None)
    return entry[1] if entry is not None and entry[0] is connection.get_transaction() else None


def in_ledger_transaction() -> bool:
    """True inside ``run_ledger_transaction``, whose commit goes through ``commit``."""
    return ledger_connection.get() is not None


class Record:
    """One row of a ledger table, as a mutable mapping that remembers what changed.

    ``stored`` is False for a row built in Python and not inserted yet; ``save``
    then inserts it whole, else updates only the changed columns by primary key.
    """

    __slots__ = ("table", "values", "_original", "stored")

    def __init__(self, table: Table, values: dict[str, Any], *, stored: bool) -> None:
        self.table = table
        self.values = values
        self._original = dict(values) if stored else {}
        self.stored = stored

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def __setitem__(self, column: str, value: Any) -> None:
        self.values[column] = value

    def changes(self) -> dict[str, Any]:
        return {
            column: value
            for column, value in self.values.items()
            if not self.stored or self._original.get(column) != value
        }

    def save(self) -> None:
        """Write what changed: the whole row once for a new record, else one UPDATE."""
        changes = self.changes()
        if not self.stored:
            row = _insert_returning(self.table, frozenset(changes)).first(**changes)
            assert row is not None  # INSERT ... RETURNING returns the row it inserted
            self.values.update(row)
            _written(self.table, None, self.values)
        elif changes:
            key = _key_column(self.table).key
            _update_by_key(self.table, frozenset(changes)).run(**changes, _key=self.values[key])
            _written(self.table, self._original, self.values)
        self._original = dict(self.values)
        self.stored = True


@cache
def _key_column(table: Table) -> Any:
    (column,) = table.primary_key.columns
    return column


@cache
def _insert_returning(table: Table, columns: frozenset[str]) -> Prepared:
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    return Prepared(insert(table).values(values).returning(*table.c))


@cache
def _update_by_key(table: Table, columns: frozenset[str]) -> Prepared:
    """``UPDATE table SET <these columns> WHERE <key> = :_key``."""
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    return Prepared(update(table).where(_key_column(table) == bindparam("_key")).values(values))


@cache
def insert_ignoring(
    dialect: str, table: Table, columns: frozenset[str], *, whole_row: bool = True
) -> Prepared:
    """INSERT of these columns ... ON CONFLICT DO NOTHING RETURNING the row (or its key),
    compiled once per dialect, table and set of columns."""
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    statement = insert_ignoring_conflicts(dialect, table, whole_row=whole_row)
    return Prepared(statement.values(values))


def fetch_one(statement: Prepared, table: Table, **params: Any) -> Record | None:
    """The first row ``statement`` selects (all columns of ``table``), or None."""
    row = statement.first(**params)
    return Record(table, row, stored=True) if row is not None else None


def insert_unless_exists(table: Table, values: dict[str, Any]) -> Record | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the row: None when a row with the same
    unique key exists (perhaps inserted a moment ago by a concurrent transaction)."""
    dialect = connection().dialect.name
    row = insert_ignoring(dialect, table, frozenset(values)).first(**values)
    if row is None:
        return None
    _written(table, None, row)
    return Record(table, row, stored=True)


def find_by_either(table: Table, preferred: tuple[Any, str], other: tuple[Any, str]) -> Prepared:
    """One query for the row with either key (column, parameter name): a row matching the
    ``preferred`` one wins over a row matching only the other.

    Two unique-index look-ups under UNION ALL rather than one ``OR``: on a small table not
    analyzed yet (a new database) PostgreSQL plans the ``OR`` as a scan of every row, and a
    connection that prepared the statement then kept that plan as the table grew."""
    (first, first_name), (second, second_name) = preferred, other
    shadow = table.alias("preferred")
    by_first = select_all(table).where(first == bindparam(first_name))
    by_other_only = select_all(table).where(
        second == bindparam(second_name),
        ~exists().where(shadow.c[first.key] == bindparam(first_name)),
    )
    return Prepared(union_all(by_first, by_other_only).limit(1))


def select_all(table: Table) -> Select[Any]:
    """``SELECT <every column> FROM table``, to add a WHERE to."""
    return select(*table.c)
