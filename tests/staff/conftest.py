"""Helpers for the staff tests: a movable clock and reading the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from membership import clock
from membership.extensions import db
from membership.staff.models import AuditEntry, StaffUser


class MovableClock:
    """``membership.clock.now`` for a test: fixed until moved."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[MovableClock]:
    moving = MovableClock(datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC))
    monkeypatch.setattr(clock, "now", moving)
    yield moving


@pytest.fixture
def audit_entries(app: Flask) -> Callable[..., list[AuditEntry]]:
    """The audit log, oldest first (optionally of one action)."""

    def read(action: str | None = None) -> list[AuditEntry]:
        with app.app_context():
            query = select(AuditEntry).order_by(AuditEntry.id)
            if action is not None:
                query = query.where(AuditEntry.action == action)
            entries = list(db.session.scalars(query))
            db.session.expunge_all()
            return entries

    return read


@pytest.fixture
def staff_row(app: Flask) -> Callable[[int], StaffUser]:
    """A staff account as stored now."""

    def read(user_id: int) -> StaffUser:
        with app.app_context():
            user = db.session.get(StaffUser, user_id)
            assert user is not None
            db.session.expunge(user)
            return user

    return read


@pytest.fixture
def failures(app: Flask) -> Callable[..., tuple[int, datetime | None]]:
    """``failures(user_id, address)``: the failed sign-ins counted against an account from
    a client address (None: from every address), and until when that is paused."""
    from membership.staff import service

    def read(user_id: int | None, address: str | None = "127.0.0.1") -> tuple[int, datetime | None]:
        with app.test_request_context("/"):
            row = service.failures_of(user_id, address)
            db.session.rollback()
            return (row.failed_count, row.locked_until) if row is not None else (0, None)

    return read
