"""Connection settings that make SQLite behave like the production database where it matters.

SQLite gets WAL (readers never block the single writer), a busy timeout (writers
wait instead of failing), enforced foreign keys, and explicit BEGIN so that
SAVEPOINTs work (the sqlite3 module's implicit transactions break them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from functools import cache
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


_writer_lock_files = threading.local()


@contextlib.contextmanager
def ledger_writer_turn(session: Any) -> Iterator[None]:
    """SQLite: wait for this writer's turn on a file lock beside the database.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps
    (1 ms, 2 ms, 5 ms, ... up to 100 ms), so under a burst the write lock sits idle
    between holders. Queued on ``flock`` instead, the next writer is woken the moment
    the previous one finishes. Other databases: nothing to do here.
    """
    url = session.get_bind().url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = f"{url.database}.ledger-lock"
    files = getattr(_writer_lock_files, "files", None)
    if files is None:
        files = _writer_lock_files.files = {}
    fd = files.get(path)
    if fd is None:
        fd = files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


@cache
def insert_ignoring_conflicts(dialect: str, table: Any, *, whole_row: bool) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the row (or its key), built once per
    table: values go in as parameters, so SQLAlchemy compiles it once, not per event."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    returning = table.c if whole_row else table.primary_key.columns
    return insert(table).on_conflict_do_nothing().returning(*returning)


def insert_row_unless_exists(session: Any, table: Any, values: dict[str, Any]) -> bool:
    """True when this call inserted the row; False when a row with its key exists."""
    connection = session.connection()  # Core: the ORM's bulk-insert machinery costs 3x more
    statement = insert_ignoring_conflicts(connection.dialect.name, table, whole_row=False)
    return connection.execute(statement, values).scalar() is not None
