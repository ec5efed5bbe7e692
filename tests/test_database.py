"""SQLite behaves like PostgreSQL where the app depends on it (``membership.database``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select, text

from membership.extensions import db
from membership.models import Supporter
from membership.staff import audit
from membership.staff.audit import record_audit_now
from membership.staff.models import AuditEntry


def test_a_request_that_read_then_writes_is_not_undone_by_a_write_in_between(
    app: Flask,
) -> None:
    """A staff page reads, renders, then records its audit entry; a webhook commits in
    between. On SQLite a transaction that had read could no longer write ("database is
    locked", at once): the page failed. Now it writes, as on PostgreSQL."""
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Supporter)) == 0  # read
        with db.engine.begin() as webhook:  # meanwhile, another connection writes
            webhook.execute(
                text("INSERT INTO supporters (email, created_at) VALUES (:email, :at)"),
                {"email": "new.supporter@example.org", "at": "2026-11-28 12:00:00+00:00"},
            )
        record_audit_now(audit.VIEW_AT_RISK)
        assert db.session.scalar(select(func.count()).select_from(Supporter)) == 1
        assert [entry.action for entry in db.session.scalars(select(AuditEntry))] == [
            audit.VIEW_AT_RISK
        ]


def test_a_rolled_back_write_leaves_nothing_and_a_savepoint_undoes_only_its_part(
    app: Flask,
) -> None:
    """The first write's BEGIN makes what follows one transaction, savepoints included."""

    class Undone(Exception):
        pass

    with app.app_context():
        db.session.add(Supporter(email="rolled.back@example.org"))
        db.session.flush()
        db.session.rollback()
        db.session.add(Supporter(email="kept@example.org"))
        try:
            with db.session.begin_nested():
                db.session.add(Supporter(email="undone@example.org"))
                db.session.flush()
                raise Undone
        except Undone:
            pass
        db.session.commit()
        assert list(db.session.scalars(select(Supporter.email))) == ["kept@example.org"]
