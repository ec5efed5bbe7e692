"""What is erased is gone: not readable in the database's files afterwards (SQLite's
``-wal`` included), nor kept as dead rows (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from membership.extensions import db
from membership.webhooks import service
from tests import stripe_events as se
from tests.conftest import ON_POSTGRES

CANARY = "canary-7f3a9c@example.org"


def test_forgotten_payloads_leave_no_trace_on_disk(
    client: FlaskClient, app_ctx: None, database_url: str
) -> None:
    """A customer who never gave changes their email: the event's payload and the waiting
    address are both forgotten, and neither can be read from the files after."""
    started = datetime.now(UTC) - timedelta(seconds=1)
    evt = se.event("customer.updated", se.customer(customer_id="cus_canary", email=CANARY))
    assert se.deliver(client, evt).status_code == 200
    assert service.forget_payloads(timedelta(0)) == 1
    db.session.remove()
    if ON_POSTGRES:  # the dead row versions of what was blanked are vacuumed away
        vacuumed = db.session.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum >= :started"
                " AND relname IN ('stripe_events', 'pending_customer_emails')"
            ),
            {"started": started},
        ).scalars()
        assert sorted(vacuumed) == ["pending_customer_emails", "stripe_events"]
        return
    database = Path(str(make_url(database_url).database))
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            assert CANARY.encode() not in path.read_bytes(), path.name
