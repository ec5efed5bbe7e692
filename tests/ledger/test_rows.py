"""The ledger's prepared statements keep SQLAlchemy's guarantees: errors are SQLAlchemy's,
and never carry the values of the statement (emails, names, whole Stripe payloads)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from membership.database import describe_error
from membership.extensions import db
from membership.models import Supporter
from membership.sql.rows import Row
from membership.sql.typed import ROW_TYPES


def new_supporter(email: str) -> Row:
    return Row(
        Supporter.__table__,
        {
            "email": email,
            "stripe_customer_id": None,
            "created_at": datetime(2026, 11, 28, tzinfo=UTC),
        },
        stored=False,
    )


def test_a_driver_error_is_sqlalchemys_and_hides_the_values(app_ctx: None) -> None:
    new_supporter("alice@example.org").save()
    with pytest.raises(IntegrityError) as raised:
        new_supporter("alice@example.org").save()  # the same email: unique
    db.session.rollback()
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)
    assert "Alice Reader" not in str(raised.value)
    # What is logged and stored of it names no value, not even the key PostgreSQL quotes.
    described = describe_error(raised.value)
    assert described.startswith(("UniqueViolation", "IntegrityError"))
    assert "alice@example.org" not in described and "Alice Reader" not in described


def test_rows_come_back_with_their_python_types(app_ctx: None) -> None:
    supporter = new_supporter("bob@example.org")
    supporter.save()
    assert isinstance(supporter["id"], int)
    assert supporter["created_at"] == datetime(2026, 11, 28, tzinfo=UTC)
    assert supporter["created_at"].tzinfo is not None  # UTC on SQLite as on PostgreSQL


def test_each_ledger_row_type_names_its_tables_columns() -> None:
    tables = db.metadata.tables
    for name, row_type in ROW_TYPES.items():
        assert list(row_type.__annotations__) == [c.key for c in tables[name].columns], name
        for column in tables[name].columns:
            annotation = str(row_type.__annotations__[column.key])
            assert ("None" in annotation) == column.nullable, f"{name}.{column.key}"
