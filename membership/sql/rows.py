"""Ledger rows as plain mappings that remember what changed, written one statement at a time.

The ledger reads the row an event is about, decides in Python, and writes back only the
columns that changed, in one statement (or inserts the whole row at once). Each write is
announced (``hooks.row_written``) so the report rollups keep up in the same transaction.
Each table's row has its ``TypedDict`` in ``membership.sql.typed`` (checked against the
table by a test).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, exists, insert, select, union_all, update
from sqlalchemy.sql import Select

from membership.database import insert_ignoring_conflicts
from membership.ledger import hooks
from membership.sql.statements import Statement, connection


def _written(table: Table, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    hooks.row_written.send(table, before=before, after=after)


class Row:
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
def _insert_returning(table: Table, columns: frozenset[str]) -> Statement:
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    return Statement(insert(table).values(values).returning(*table.c))


@cache
def _update_by_key(table: Table, columns: frozenset[str]) -> Statement:
    """``UPDATE table SET <these columns> WHERE <key> = :_key``."""
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    return Statement(update(table).where(_key_column(table) == bindparam("_key")).values(values))


@cache
def insert_ignoring(
    dialect: str, table: Table, columns: frozenset[str], *, whole_row: bool = True
) -> Statement:
    """INSERT of these columns ... ON CONFLICT DO NOTHING RETURNING the row (or its key),
    compiled once per dialect, table and set of columns."""
    values: dict[str, Any] = {column: bindparam(column) for column in columns}
    statement = insert_ignoring_conflicts(dialect, table, whole_row=whole_row)
    return Statement(statement.values(values))


def fetch_one(statement: Statement, table: Table, **params: Any) -> Row | None:
    """The first row ``statement`` selects (all columns of ``table``), or None."""
    row = statement.first(**params)
    return Row(table, row, stored=True) if row is not None else None


def insert_unless_exists(table: Table, values: dict[str, Any]) -> Row | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the row: None when a row with the same
    unique key exists (perhaps inserted a moment ago by a concurrent transaction)."""
    dialect = connection().dialect.name
    row = insert_ignoring(dialect, table, frozenset(values)).first(**values)
    if row is None:
        return None
    _written(table, None, row)
    return Row(table, row, stored=True)


def find_by_either(table: Table, preferred: tuple[Any, str], other: tuple[Any, str]) -> Statement:
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
    return Statement(union_all(by_first, by_other_only).limit(1))


def select_all(table: Table) -> Select[Any]:
    """``SELECT <every column> FROM table``, to add a WHERE to."""
    return select(*table.c)
