"""Ledger rows read and written with SQLAlchemy Core, one statement at a time.

The webhook path runs inside the database's write lock, so every statement and
every microsecond of Python there is paid by all the events queued behind it.
The ledger therefore works on plain rows: it reads the row an event is about,
decides in Python, and writes back only the columns that changed, in one
statement (or inserts the whole row at once). Statements are built once, at
import, so SQLAlchemy compiles each of them once per database.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.sql import Select

from membership.database import insert_ignoring_conflicts, ledger_connection
from membership.extensions import db


def connection() -> Connection:
    """The connection of the ledger transaction (``run_ledger_transaction``), or else of the
    session's current transaction (demo data, tests calling the ledger directly)."""
    return ledger_connection.get() or db.session.connection()


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

    def get(self, column: str) -> Any:
        return self.values.get(column)

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
            row = connection().execute(_insert_returning(self.table), changes).one()
            self.values.update(row._mapping)
        elif changes:
            key = _key_column(self.table).key
            connection().execute(_update_by_key(self.table), {**changes, "_key": self.values[key]})
        self._original = dict(self.values)
        self.stored = True


@cache
def _insert_returning(table: Table) -> Any:
    return insert(table).returning(*table.c)


@cache
def _key_column(table: Table) -> Any:
    (column,) = table.primary_key.columns
    return column


@cache
def _update_by_key(table: Table) -> Any:
    """``UPDATE table SET <the columns given at execution> WHERE <key> = :_key``."""
    return update(table).where(_key_column(table) == bindparam("_key"))


def fetch_one(statement: Select[Any], table: Table, **params: Any) -> Record | None:
    """The first row ``statement`` selects (all columns of ``table``), or None."""
    row = connection().execute(statement, params).first()
    return Record(table, dict(row._mapping), stored=True) if row is not None else None


def insert_unless_exists(table: Table, values: dict[str, Any]) -> Record | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the row: None when a row with the same
    unique key exists (perhaps inserted a moment ago by a concurrent transaction)."""
    conn = connection()
    statement = insert_ignoring_conflicts(conn.dialect.name, table, whole_row=True)
    row = conn.execute(statement, values).first()
    return Record(table, dict(row._mapping), stored=True) if row is not None else None


def select_all(table: Table) -> Select[Any]:
    """``SELECT <every column> FROM table``, to add a WHERE to."""
    return select(*table.c)
