"""The bulk demo path (``membership.demo.bulk``, for datasets of millions) writes exactly
what the ledger path (``flask demo seed``, one fact at a time through the ledger) writes
for the same stories: every row of every ledger table, ids included, and the rollups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import select

from membership import clock
from membership.demo import bulk, histories
from membership.demo import seed as demo_seed
from membership.extensions import db
from tests.reports.test_rollups import rebuilt_snapshot, rollup_snapshot

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Columns a path fills with a fresh secret each time.
SECRETS = {"reminders": {"token"}}


def ledger_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables the demo writes, in primary-key order, secrets left out."""
    db.session.expire_all()
    found = {}
    for table in bulk.TABLES:
        skip = SECRETS.get(table.name, set())
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        found[table.name] = [{k: v for k, v in row.items() if k not in skip} for row in rows]
    return found


def empty_database() -> None:
    """No rows, and on PostgreSQL ids counting from 1 again (as in a new database)."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            names = ", ".join(table.name for table in bulk.TABLES)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.mark.parametrize(
    ("seed_value", "block"),
    [
        pytest.param(3, 20_000, id="one-block"),
        # Seven blocks, the last one short: on PostgreSQL two processes make them at once.
        pytest.param(11, 23, id="seven-blocks"),
    ],
)
def test_bulk_rows_and_rollups_equal_the_ledger_path(
    app: Flask,
    app_ctx: None,
    frozen_clock: None,
    monkeypatch: pytest.MonkeyPatch,
    seed_value: int,
    block: int,
) -> None:
    monkeypatch.setattr(histories, "BLOCK", block)
    empty_database()
    summary = demo_seed.seed(150, 900, seed_value=seed_value, run="t")
    through_ledger = ledger_rows()
    rollups_through_ledger = rollup_snapshot()
    empty_database()

    loaded = bulk.load(150, 900, seed_value=seed_value, run="t")

    in_bulk = ledger_rows()
    assert (loaded.supporters, loaded.payments) == (summary.supporters, summary.payments)
    assert (loaded.recurring, loaded.attempts, loaded.reminders) == (
        summary.recurring,
        summary.attempts,
        summary.reminders,
    )
    for name, rows in through_ledger.items():
        assert in_bulk[name] == rows, name
    # Every kind of row was exercised: refunds and disputes, failures, past due, cancelled.
    assert len(in_bulk["payments"]) == 900
    assert in_bulk["charge_adjustments"] and in_bulk["payment_failures"]
    statuses = {row["status"] for row in in_bulk["recurring_supports"]}
    assert {"active", "canceled"} <= statuses
    assert rollup_snapshot() == rollups_through_ledger
    assert rollups_through_ledger["report_recurring_flow"], "recurring supports count"
    assert rebuilt_snapshot() == rollups_through_ledger


def test_bulk_refuses_a_database_that_has_a_ledger(app: Flask, app_ctx: None) -> None:
    demo_seed.seed(3, 5, seed_value=1)
    before = ledger_rows()

    with pytest.raises(bulk.NotEmpty, match="supporters already has rows"):
        bulk.load(10, 20)

    db.session.rollback()
    assert ledger_rows() == before


def test_flask_demo_seed_bulk(app: Flask, app_ctx: None) -> None:
    result: Result = app.test_cli_runner().invoke(
        args=["demo", "seed", "--bulk", "--supporters", "40", "--payments", "200"]
    )

    assert result.exit_code == 0, result.output
    assert "added 40 supporters, 200 payments" in result.output
    assert "40 of 40 supporters written" in result.output
    assert rollup_snapshot() == rebuilt_snapshot()
    again = app.test_cli_runner().invoke(
        args=["demo", "seed", "--bulk", "--supporters", "4", "--payments", "8"]
    )
    assert again.exit_code == 2
    assert "bulk demo data goes into an empty database" in again.output
