"""Statements compiled once and run straight on the driver, inside the ledger's transaction.

The rule: the ORM everywhere, this layer only inside the ledger transaction (a webhook's
``run_ledger_transaction``, and what the ledger's receivers write in it). The webhook
path runs inside the database's write lock, so every statement and every microsecond of
Python there is paid by all the events queued behind it.

Statements are written with SQLAlchemy Core and compiled once per database
(``Statement``); each execution then goes straight to the DBAPI cursor with
SQLAlchemy's own type conversions. SQLAlchemy's per-execution machinery (cache
keys, parameter construction, result objects) cost several times the statement
itself on SQLite, and was most of an event's processing time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from membership.database import begin_sqlite_transaction, ledger_connection
from membership.extensions import db
from membership.ledger import hooks

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


class Statement:
    """A Core statement (no IN lists: write them out) compiled once per dialect and run
    straight on the connection's DBAPI cursor, inside its current transaction. (Not the
    handlers' look-ups made before a transaction: those are ``webhooks.handlers.looks_up``.)"""

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


def commit(connection: Connection) -> None:
    """Commit a ledger transaction, after the writes that wait for its end
    (``hooks.committing``)."""
    hooks.committing.send(connection)
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
