"""The webhook path's look-ups stay index look-ups, however large the tables grow.

Each plan is the one the database makes for the statement as the ledger sends it: on
PostgreSQL the generic plan of the prepared statement (psycopg prepares a statement
after its fifth use, and PostgreSQL then keeps one plan for any parameters), on SQLite
the one plan SQLite has. On PostgreSQL the tables are fresh temporary copies, so the
plan does not depend on what earlier tests or ANALYZE left in the statistics.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg

from membership.extensions import db
from membership.ledger.attempts import _FIND_ATTEMPT
from membership.ledger.records import Prepared
from membership.ledger.supporters import _FIND_SUPPORTER
from membership.reminders.service import _CONVERT_AFTER_GIFT

# A new database's first attempts: never analyzed, and few enough that PostgreSQL, then,
# would rather scan them all. A connection prepares the statement then and keeps the plan.
NEW_ATTEMPTS = 300
REMINDERS = 2000


@pytest.fixture
def connection(app_ctx: None) -> Iterator[Connection]:
    """A transaction that is rolled back: the rows and temporary tables go with it."""
    with db.engine.connect() as conn:
        yield conn
        conn.rollback()


def own_copy(conn: Connection, table: str) -> None:
    """On PostgreSQL, a temporary table of the same name, indexes included, which the
    unqualified names of the ledger's SQL then find first: new, so without statistics."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"CREATE TEMP TABLE {table} (LIKE public.{table} INCLUDING ALL)"))


def plan(conn: Connection, prepared: Prepared, **params: Any) -> str:
    """The database's plan for the statement, as one text."""
    if conn.dialect.name == "postgresql":
        compiled = prepared.statement.compile(
            dialect=postgresql_psycopg.dialect(paramstyle="numeric_dollar")
        )
        values = {**compiled.params, **params}
        arguments = [values[name] for name in compiled.positiontup or ()]
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        name = f"planned_{secrets.token_hex(4)}"  # PREPARE outlives a rolled-back transaction
        conn.exec_driver_sql(f"PREPARE {name} AS {compiled.string}")
        driver = conn.connection.driver_connection
        literals = ", ".join(sql.Literal(value).as_string(driver) for value in arguments)
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE {name}({literals})").all()
        conn.exec_driver_sql(f"DEALLOCATE {name}")
        return "\n".join(row[0] for row in rows)
    compiled = prepared.statement.compile(dialect=conn.dialect)
    values = {**compiled.params, **params}
    arguments = tuple(values[name] for name in compiled.positiontup or ())
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", arguments).all()
    return "\n".join(row[-1] for row in rows)


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
        [
            {"id": f"{n:032x}", "session": f"cs_test_{n}", "created": "2026-11-28 00:00:00"}
            for n in range(NEW_ATTEMPTS)
        ],
    )
    found = plan(connection, _FIND_ATTEMPT, attempt_id="0" * 32, session_id="cs_test_7")
    assert "Seq Scan" not in found and "SCAN checkout_attempts" not in found, found


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
            {"email": f"r{n}@example.org", "customer": f"cus_{n}", "created": "2026-11-28"}
            for n in range(NEW_ATTEMPTS)
        ],
    )
    found = plan(connection, _FIND_SUPPORTER, customer_id="cus_7", email="r7@example.org")
    assert "Seq Scan" not in found and "SCAN supporters" not in found, found


def test_a_gift_looks_up_the_givers_active_reminder_by_email(connection: Connection) -> None:
    """With the statuses bound as parameters, the partial index on active emails could not
    be used: each payment read every reminder waiting to be sent."""
    own_copy(connection, "supporters")
    own_copy(connection, "reminders")
    connection.execute(
        text(
            "INSERT INTO reminders (token, email, due_at, status, attempts, created_at,"
            " updated_at) VALUES (:token, :email, :moment, 'scheduled', 0, :moment, :moment)"
        ),
        [
            {
                "token": f"token-{n}",
                "email": f"reader{n}@example.org",
                "moment": "2026-11-28 00:00:00",
            }
            for n in range(REMINDERS)
        ],
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE reminders"))  # many active reminders, and it knows
    found = plan(
        connection,
        _CONVERT_AFTER_GIFT,
        supporter_id=1,
        reminder_id=None,
        paid_at="2026-11-28 00:00:00",
        now="2026-11-28 00:00:00",
        status="converted",
    )
    # By the active-email index (SQLite names it; PostgreSQL's copy has a name of its own).
    assert "Index Cond: ((email)" in found or "uq_reminders_active_email (email=?)" in found, found
    assert "Index Cond: ((status)" not in found and "(status=?)" not in found, found
    assert "Seq Scan on reminders" not in found and "SCAN reminders" not in found, found
