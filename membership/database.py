"""Connection settings that make SQLite behave like the production database where it matters.

SQLite gets WAL (readers never block the single writer), a busy timeout (writers
wait instead of failing), enforced foreign keys, and a BEGIN of our own, so that
SAVEPOINTs work (the sqlite3 module's implicit transactions break them), issued at a
transaction's first write rather than its first read. A transaction that read first
would hold a snapshot, and SQLite refuses to let it write once another connection has
written since ("database is locked" at once, ``SQLITE_BUSY_SNAPSHOT``): a staff page that
reads, then records its audit entry, failed whenever a webhook committed in between.
Reads before the first write now each see the latest data, as every statement does
under PostgreSQL's READ COMMITTED.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")
log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    # What is erased is overwritten, not left readable in free pages of the file.
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


@event.listens_for(Engine, "before_cursor_execute")
def _begin_sqlite_before_writing(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
    """Anything but a SELECT (a write, DDL, a SAVEPOINT) begins SQLite's transaction."""
    if conn.dialect.name == "sqlite" and statement.lstrip()[:6].upper() != "SELECT":
        begin_sqlite_transaction(conn)


def begin_sqlite_transaction(conn: Connection) -> None:
    """SQLite: BEGIN now, unless the connection's transaction has begun in SQLite already
    (``_begin_sqlite_before_writing``; the ledger's statements, which go straight to the
    driver, call this themselves). Other databases: nothing to do."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection) or driver.in_transaction:
        return
    # Straight to the driver: through exec_driver_sql, BEGIN cost as much as a statement
    # of the ledger (SQLAlchemy's execution context, events and result for no rows).
    try:
        driver.execute("BEGIN")
    except sqlite3.Error as error:  # raised as SQLAlchemy would have raised it
        raise DBAPIError.instance(
            "BEGIN", (), error, sqlite3.Error, dialect=conn.dialect
        ) from error


# How many times a ledger transaction is run before its conflict is reported as a failure
# (then Stripe's retry, later, runs it again). Conflicts are rare: two events about one
# payment or subscription at the same moment.
MAX_LEDGER_ATTEMPTS = 5
# SQLSTATEs with which PostgreSQL aborts a transaction so that a concurrent one can win:
# running it again succeeds.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def describe_error(error: BaseException) -> str:
    """What went wrong, fit for logs and ``stripe_events.last_error``: for a database error
    its class and primary message only. Statements' values are hidden already
    (``hide_parameters``), but PostgreSQL's detail line can quote a row's key, such as a
    supporter's email."""
    original = getattr(error, "orig", None)
    diagnostic = getattr(original, "diag", None)
    if isinstance(error, DBAPIError) and diagnostic is not None:
        return f"{type(original).__name__}: {diagnostic.message_primary}"
    if isinstance(error, DBAPIError) and original is not None:
        return f"{type(original).__name__}: {original}"  # sqlite3 names columns, not values
    return f"{type(error).__name__}: {error}"


def is_write_conflict(error: BaseException) -> bool:
    """True when the database aborted the transaction in favour of a concurrent one."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in _RETRYABLE_SQLSTATES


# The connection of the ledger transaction running in this thread (run_ledger_transaction),
# which the ledger's statements use (membership.sql.statements.connection).
ledger_connection: ContextVar[Connection | None] = ContextVar("ledger_connection", default=None)


def run_ledger_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a connection of its own, as if it were alone with what it touches.

    ``work`` commits (or rolls back) itself. Handlers read a row, decide in Python and
    write it back, so two events about one payment or subscription must not interleave.
    SQLite has a single writer (queued on ``ledger_writer_turn``). On PostgreSQL each
    handler first takes advisory locks on the things its event is about
    (``membership.ledger.locks``), so events about different things run in parallel; a
    deadlock between two of them (PostgreSQL aborts one) is resolved by running the
    aborted one again. The ORM session is not involved: on the webhook path its
    bookkeeping cost as much as a statement.
    """
    try:
        for attempt in range(1, MAX_LEDGER_ATTEMPTS + 1):
            # The connection first: checking it out (the pool's ping) and the checkpoint
            # pragmas then take none of the writer's turn on SQLite, for which others queue.
            # A queued writer holds its pooled connection meanwhile; a thread that finds the
            # pool's connections taken (SQLAlchemy's default: 5, and 10 more) waits for one,
            # as it would for the turn.
            with (
                engine.connect() as connection,
                _no_checkpoint_in_turn(connection),
                ledger_writer_turn(engine.url),
            ):
                token = ledger_connection.set(connection)
                try:
                    return work(connection)
                except DBAPIError as error:
                    connection.rollback()
                    if not is_write_conflict(error) or attempt == MAX_LEDGER_ATTEMPTS:
                        raise
                except BaseException:
                    connection.rollback()  # within the turn, so the next writer finds no lock
                    raise
                finally:
                    ledger_connection.reset(token)
        raise AssertionError("unreachable: the last attempt returns or raises")
    finally:
        _checkpoint_when_due(engine)


# SQLite's own automatic checkpoint runs after a commit, in the committing connection:
# inside the writer's turn it would make every queued writer wait for its fsyncs. Ledger
# transactions therefore commit without it and checkpoint once their turn is over, every
# this many transactions in a process (a few thousand pages of WAL, as SQLite's default
# of 1,000 pages a connection would give).
CHECKPOINT_EVERY_TRANSACTIONS = 100
_transactions_since_checkpoint = itertools.count(1)


@contextlib.contextmanager
def _no_checkpoint_in_turn(connection: Connection) -> Iterator[None]:
    """SQLite: no automatic checkpoint while this connection holds the writer's turn."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA wal_autocheckpoint = 0")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_AUTOCHECKPOINT_PAGES}")


def _checkpoint_when_due(engine: Engine) -> None:
    """Copy the WAL back into the SQLite file (PASSIVE: it waits for no reader or writer),
    outside the writer's turn, so the next writer goes on meanwhile."""
    if engine.dialect.name != "sqlite" or next(_transactions_since_checkpoint) % (
        CHECKPOINT_EVERY_TRANSACTIONS
    ):
        return
    try:
        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except (sqlite3.Error, DBAPIError) as error:  # committed already; the next one tries again
        log.warning("SQLite checkpoint failed: %s", error)


_writer_lock_files = threading.local()


@contextlib.contextmanager
def ledger_writer_turn(url: URL) -> Iterator[None]:
    """SQLite: wait for this writer's turn on a file lock beside the database.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps
    (1 ms, 2 ms, 5 ms, ... up to 100 ms), so under a burst the write lock sits idle
    between holders. Queued on ``flock`` instead, the next writer is woken the moment
    the previous one finishes. Other databases: nothing to do here.
    """
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


@contextlib.contextmanager
def sqlite_writer_turn(session: Any) -> Iterator[None]:
    """SQLite: a short write through the ORM session queues for the writers' turn
    (``ledger_writer_turn``) as the ledger's transactions do. Left to SQLite's busy
    handler, which sleeps between tries, a burst of such writes (readers' Continue in a
    surge) kept the lock idle between holders, and a webhook waited seconds for a gap.
    The session's connection is checked out (with the pool's ping) before the turn; a
    write that fails is rolled back within it, so the next writer finds no lock. Other
    databases: nothing to do here.
    """
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        yield
        return
    session.connection()
    with ledger_writer_turn(engine.url):
        try:
            yield
        except BaseException:
            session.rollback()
            raise


@cache
def insert_ignoring_conflicts(dialect: str, table: Any, *, whole_row: bool) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the row (or its key), built once per
    table: values go in as parameters, so SQLAlchemy compiles it once, not per event."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    returning = table.c if whole_row else table.primary_key.columns
    return insert(table).on_conflict_do_nothing().returning(*returning)


@cache
def _insert_model_ignoring_conflicts(dialect: str, model: Any) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing().returning(model)


def insert_unless_exists(session: Any, model: Any, values: dict[str, Any]) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the new ORM object, in one statement, or
    None when a row with the same unique key exists (perhaps inserted a moment ago by a
    concurrent transaction). Cheaper than a savepoint around an ORM add."""
    statement = _insert_model_ignoring_conflicts(session.get_bind().dialect.name, model)
    return session.scalars(statement, [values]).first()


def scrub_after_erasure(session: Any, tables: tuple[str, ...]) -> None:
    """Make what an erasure run deleted or blanked unreadable on disk, after its commit.

    SQLite (``secure_delete`` zeroes the freed pages in the database file) still holds
    the old pages in its ``-wal`` file until a checkpoint copies them back: checkpoint
    and truncate it. PostgreSQL keeps dead row versions until vacuumed: vacuum the tables
    the run touched (outside a transaction, as VACUUM must run).
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        with bind.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            if not table.isidentifier():
                raise ValueError(f"not a table name: {table!r}")
            connection.exec_driver_sql(f"VACUUM {table}")
