"""Connection settings that make SQLite behave like the production database where it matters.

SQLite gets WAL (readers never block the single writer), a busy timeout (writers
wait instead of failing), enforced foreign keys, and explicit BEGIN so that
SAVEPOINTs work (the sqlite3 module's implicit transactions break them).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


# Any constant would do: every ledger transaction on PostgreSQL takes this one lock.
LEDGER_LOCK_KEY = 0x6D656D62  # "memb"


def serialise_ledger_writes(session: Any) -> None:
    """Let one transaction at a time change the ledger, as SQLite's single writer does.

    Handlers read a row, decide in Python and write it back; two different events about
    the same payment or subscription must not interleave, or one update is lost. The
    lock is held until the transaction ends.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_KEY})


_UPSERT_STATEMENTS: dict[tuple[str, Any, Any], Any] = {}


def _insert_ignoring_conflicts(dialect: str, model: Any, returning: Any) -> Any:
    """One statement per (dialect, model), built once: values go in as parameters, so
    SQLAlchemy compiles it once instead of coercing a fresh VALUES clause per event."""
    key = (dialect, model, returning)
    if key not in _UPSERT_STATEMENTS:
        from sqlalchemy.dialects import postgresql, sqlite

        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        _UPSERT_STATEMENTS[key] = insert(model).on_conflict_do_nothing().returning(returning)
    return _UPSERT_STATEMENTS[key]


def insert_unless_exists(session: Any, model: Any, values: dict[str, Any]) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the new ORM object, in one statement,
    or None when a row with the same unique key exists (perhaps inserted a moment ago by
    a concurrent event). Cheaper than a savepoint around an ORM add."""
    statement = _insert_ignoring_conflicts(session.get_bind().dialect.name, model, model)
    return session.scalars(statement, [values]).first()


def insert_row_unless_exists(session: Any, table: Any, values: dict[str, Any]) -> bool:
    """Core variant for a table: True when this call inserted the row."""
    key_column = next(iter(table.primary_key.columns))
    statement = _insert_ignoring_conflicts(session.get_bind().dialect.name, table, key_column)
    return session.execute(statement, values).scalar() is not None
