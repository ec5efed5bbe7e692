"""Look-ups stay index look-ups, however large the tables grow.

Each plan is the one the database makes for the statement as the app sends it: on
PostgreSQL the generic plan of the prepared statement (psycopg prepares a statement
after its fifth use on a connection, and PostgreSQL may then keep one plan for any
parameters), on SQLite the one plan SQLite has. On PostgreSQL the tables are fresh
temporary copies (same columns and indexes), so each plan depends only on the rows the
test puts there, and on ANALYZE where the test runs it.

The statements of the ledger are compiled from its ``Statement`` objects; those the
staff pages and the reminder jobs build as they run are caught as they run.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import Connection, event, text
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from membership.config import current_settings
from membership.extensions import db
from membership.ledger.attempts import _FIND_ATTEMPT
from membership.ledger.supporters import _FIND_SUPPORTER
from membership.models import Supporter
from membership.reminders import sender
from membership.reminders.service import (
    _CONVERT_GIVERS_REMINDER,
    _CONVERT_LINKED_REMINDER,
    Consideration,
    Signup,
    erase_old_emails,
    schedule_reminder,
)
from membership.reports import dashboard, sources
from membership.reports.at_risk import at_risk_report
from membership.reports.periods import Period
from membership.reports.supporters import supporter_detail
from membership.sql.statements import Statement

# A new database's first rows: never analyzed, and few enough that PostgreSQL, then,
# would rather scan them all. A connection prepares its statements then and keeps them.
NEW_ROWS = 300
# A newsroom's reminders, most of them finished, a fifth waiting to be sent.
REMINDERS = 2000
STATUSES = ("scheduled", "sent", "sent", "converted", "cancelled")
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
PERIOD = Period("2026-11", "2026-11")


@pytest.fixture
def connection(app_ctx: None) -> Iterator[Connection]:
    """A transaction that is rolled back: the rows and temporary tables go with it."""
    with db.engine.connect() as conn:
        forget_sqlite_statistics(conn)
        yield conn
        conn.rollback()


def forget_sqlite_statistics(conn: Connection) -> None:
    """On SQLite, plan as on a new database, as ``own_copy`` does on PostgreSQL: another
    test's ANALYZE (the bulk demo load runs one) stays in the shared file otherwise, and
    statistics of its rows made the planner scan tables these tests fill differently."""
    if conn.dialect.name != "sqlite":
        return
    if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        conn.execute(text("DELETE FROM sqlite_stat1"))
        conn.execute(text("ANALYZE sqlite_schema"))  # the planner reloads (no) statistics
        conn.commit()


def own_copy(conn: Connection, table: str) -> None:
    """On PostgreSQL, a temporary table of the same name, indexes included, which the
    unqualified names of the app's SQL then find first: new, so without statistics."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"CREATE TEMP TABLE {table} (LIKE public.{table} INCLUDING ALL)"))


def fill_reminders(conn: Connection, count: int = REMINDERS) -> None:
    """Many reminders over a year, known to the planner (ANALYZE) on PostgreSQL, as
    retention leaves them: the emails of those finished over 40 days ago erased."""
    own_copy(conn, "reminders")
    rows = []
    for n in range(count):
        status = STATUSES[n % len(STATUSES)]
        created = NOW - timedelta(days=n % 365)
        rows.append(
            {
                "token": f"token-{n}",
                "email": None
                if status != "scheduled" and created < NOW - timedelta(days=40)
                else f"reader{n}@example.org",
                "status": status,
                "created": created,
                "sent": created + timedelta(days=7) if status != "scheduled" else None,
                "converted": created + timedelta(days=8) if status == "converted" else None,
            }
        )
    conn.execute(
        text(
            "INSERT INTO reminders (token, email, due_at, status, attempts, sent_at,"
            " converted_at, created_at, updated_at) VALUES (:token, :email, :created,"
            " :status, 0, :sent, :converted, :created, :created)"
        ),
        rows,
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE reminders"))


def plan(conn: Connection, prepared: Statement, **params: Any) -> str:
    """The database's plan for one of the ledger's statements."""
    dialect = postgresql_psycopg.dialect() if conn.dialect.name == "postgresql" else conn.dialect
    compiled = prepared.statement.compile(dialect=dialect)
    values = {**compiled.params, **params}
    if conn.dialect.name == "postgresql":
        return plan_of_sql(conn, compiled.string, values)
    return plan_of_sql(conn, compiled.string, tuple(values[n] for n in compiled.positiontup or ()))


def plan_of_sql(conn: Connection, statement: str, parameters: Any) -> str:
    """The plan of a statement as the driver was given it (pyformat on PostgreSQL,
    qmark on SQLite), as one text."""
    if conn.dialect.name != "postgresql":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(row[-1] for row in rows)
    names: list[str] = []

    def numbered(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    numbered_sql = re.sub(r"%\((\w+)\)s", numbered, statement)
    driver = conn.connection.driver_connection
    literals = ", ".join(sql.Literal(parameters[name]).as_string(driver) for name in names)
    name = f"planned_{secrets.token_hex(4)}"  # PREPARE outlives a rolled-back transaction
    conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    conn.exec_driver_sql(f"PREPARE {name} AS {numbered_sql}")
    explained = "EXPLAIN EXECUTE " + name + (f"({literals})" if names else "")
    rows = conn.exec_driver_sql(explained).all()
    conn.exec_driver_sql(f"DEALLOCATE {name}")
    return "\n".join(row[0] for row in rows)


def statements_of(run: Callable[[], object], table: str) -> list[tuple[str, Any]]:
    """The statements ``run`` sends that name ``table``, with their parameters."""
    caught: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if re.search(rf"\b{table}\b", statement):
            caught.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)
        db.session.rollback()
    assert caught, f"no statement on {table}"
    return caught


def assert_no_scan(found: str) -> None:
    """No table read whole: no sequential scan of any table or alias in the plan."""
    assert "Seq Scan" not in found and not re.search(r"^SCAN ", found, re.MULTILINE), found


def assert_by_email(found: str) -> None:
    """Found through an index on the email, not through every row of some status."""
    assert "Index Cond: ((email)" in found or "(email=?)" in found, found
    assert "Index Cond: ((status)" not in found and "(status=?)" not in found, found


# -- The webhook path ------------------------------------------------------------------


def test_an_attempt_is_found_by_its_indexes_even_without_statistics(
    connection: Connection,
) -> None:
    """An ``OR`` of its two keys was planned, on a small table before ANALYZE, as a scan of
    every attempt; a prepared statement kept that plan while the table grew (until ANALYZE:
    never, where autovacuum is off), and every checkout event read the whole table."""
    own_copy(connection, "checkout_attempts")
    connection.execute(
        text(
            "INSERT INTO checkout_attempts (id, frequency, amount_minor, currency,"
            " stripe_session_id, status, created_at)"
            " VALUES (:id, 'once', 500, 'USD', :session, 'open', :created)"
        ),
        [{"id": f"{n:032x}", "session": f"cs_test_{n}", "created": NOW} for n in range(NEW_ROWS)],
    )
    found = plan(connection, _FIND_ATTEMPT, attempt_id="0" * 32, session_id="cs_test_7")
    assert_no_scan(found)


def test_a_supporter_is_found_by_its_indexes_even_without_statistics(
    connection: Connection,
) -> None:
    """The same query shape (customer id, else email), the same trap."""
    own_copy(connection, "supporters")
    connection.execute(
        text(
            "INSERT INTO supporters (email, stripe_customer_id, created_at)"
            " VALUES (:email, :customer, :created)"
        ),
        [
            {"email": f"r{n}@example.org", "customer": f"cus_{n}", "created": NOW}
            for n in range(NEW_ROWS)
        ],
    )
    found = plan(connection, _FIND_SUPPORTER, customer_id="cus_7", email="r7@example.org")
    assert_no_scan(found)


@pytest.mark.parametrize("analyzed", [True, False], ids=["analyzed", "new"])
def test_a_gift_looks_up_the_givers_active_reminder_by_email(
    connection: Connection, analyzed: bool
) -> None:
    """Once per payment. With the statuses bound as parameters the partial index on active
    emails could not serve the plan, and each payment read every waiting reminder; with
    the reminder-by-id case in the same statement (an OR), a new table was scanned whole."""
    own_copy(connection, "supporters")
    if analyzed:
        fill_reminders(connection)
    else:
        own_copy(connection, "reminders")
    found = plan(connection, _CONVERT_GIVERS_REMINDER, supporter_id=1, paid_at=NOW, now=NOW)
    assert_by_email(found)
    assert_no_scan(found)
    linked = plan(connection, _CONVERT_LINKED_REMINDER, reminder_id=5, now=NOW)
    assert_no_scan(linked)


# -- Reminders and the staff pages -------------------------------------------------------


def explain_each(
    connection: Connection, caught: list[tuple[str, Any]], *, by_email: bool = False
) -> list[str]:
    found = [plan_of_sql(connection, statement, parameters) for statement, parameters in caught]
    for one in found:
        assert_no_scan(one)
        if by_email:
            assert_by_email(one)
    return found


def test_a_sign_up_reads_no_reminder_but_its_unique_index(connection: Connection) -> None:
    """Every "remind me later": one INSERT, whose conflict with an active reminder the
    unique index finds; no statement reads other reminders."""
    signup = Signup("new.reader@example.org", date(2026, 12, 28), Consideration(), None)
    caught = statements_of(lambda: schedule_reminder(signup, NOW), "reminders")
    fill_reminders(connection)
    assert [s for s, _ in caught if not s.lstrip().upper().startswith("INSERT")] == []
    for statement, parameters in caught:
        found = plan_of_sql(connection, statement, parameters)
        assert_no_scan(found.replace("SCAN CONSTANT ROW", ""))  # SQLite: the row inserted


def test_the_sender_claims_due_reminders_through_their_index(connection: Connection) -> None:
    """Every batch of the sender: with its size a bound parameter, the generic plan
    expected a large batch and read every reminder. (Below some thousands of reminders,
    reading them all is the cheaper plan, and PostgreSQL rightly takes it.)"""
    caught = statements_of(
        lambda: sender._claim(current_settings(), NOW, "worker", 50), "reminders"
    )
    fill_reminders(connection, count=10 * REMINDERS)
    explain_each(connection, caught)


def test_retention_reads_only_the_reminders_it_may_erase(connection: Connection) -> None:
    """Every run of the sender (each minute under its timer) erases old emails first."""
    caught = statements_of(lambda: erase_old_emails(30, NOW), "reminders")
    fill_reminders(connection)
    (found,) = explain_each(connection, caught)
    # By status and age: not every finished reminder, nor every one of a status.
    assert re.search(r"Index Cond: .*updated_at <", found) or "updated_at<?" in found, found


def test_report_pages_count_only_the_reminders_of_their_period(connection: Connection) -> None:
    """The sources page reads its period's reminders; the dashboard reads none (it counts
    them from their monthly rollup, a row per month)."""
    caught = statements_of(lambda: sources._reminders_by_source(PERIOD), "reminders")
    fill_reminders(connection)
    explain_each(connection, caught)
    rollup = statements_of(lambda: dashboard._reminders(PERIOD), "report_monthly_reminders")
    assert not [s for s, _ in rollup if re.search(r"\breminders\b", s)]


def test_a_supporters_page_finds_their_reminders_by_email(connection: Connection) -> None:
    supporter = Supporter(email="reader7@example.org", created_at=NOW)
    db.session.add(supporter)
    db.session.commit()
    caught = statements_of(lambda: supporter_detail(supporter.id), "reminders")
    fill_reminders(connection)
    explain_each(connection, [(s, p) for s, p in caught if "FROM reminders" in s], by_email=True)


# -- The at-risk report ------------------------------------------------------------------


def test_the_at_risk_report_reads_only_supports_at_risk_and_recent_failures(
    connection: Connection,
) -> None:
    """Its lists joined each row's supporter: on tables never analyzed, PostgreSQL planned
    that as a read of every supporter, to list a few. Mostly healthy supports, and
    failures over a year. (The totals count failures since a date: one open range, which
    PostgreSQL can only plan well with statistics; failures are few, and autovacuum's
    ANALYZE gives those.)"""
    caught = [
        *statements_of(at_risk_report, "recurring_supports"),
        *statements_of(at_risk_report, "payment_failures"),
    ]
    for table in ("supporters", "recurring_supports", "payment_failures"):
        own_copy(connection, table)
    connection.execute(
        text("INSERT INTO supporters (id, email, created_at) VALUES (:id, :email, :created)"),
        [{"id": n, "email": f"r{n}@example.org", "created": NOW} for n in range(1, REMINDERS)],
    )
    connection.execute(
        text(
            "INSERT INTO recurring_supports (id, stripe_subscription_id, supporter_id, status,"
            " cancel_at_period_end, created_at, status_as_of)"
            " VALUES (:id, :subscription, :id, :status, false, :created, :created)"
        ),
        [
            {
                "id": n,
                "subscription": f"sub_{n}",
                "status": "past_due" if n % 50 == 0 else "active",
                "created": NOW - timedelta(days=n % 365),
            }
            for n in range(1, REMINDERS)
        ],
    )
    connection.execute(
        text(
            "INSERT INTO payment_failures (stripe_invoice_id, supporter_id, recurring_support_id,"
            " attempt_count, amount_minor, currency, failed_at)"
            " VALUES (:invoice, :id, :id, 1, 500, 'USD', :failed)"
        ),
        [
            {"invoice": f"in_{n}", "id": n, "failed": NOW - timedelta(days=n % 365)}
            for n in range(1, REMINDERS)
        ],
    )
    lists = {s: p for s, p in caught if "LIMIT" in s}  # the counts: one range, see below
    assert len(lists) == 2
    explain_each(connection, list(lists.items()))
