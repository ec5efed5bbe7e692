"""``flask newsletter export`` (CSV for the mailing tool, audited) and ``status`` (figures)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from membership.extensions import db
from membership.ledger.models import Payment, Supporter
from membership.newsletter import figures
from membership.newsletter.models import Subscriber
from membership.staff.models import AuditEntry


def subscriber(email: str | None, status: str, confirmed: str | None, **values: object) -> None:
    def moment(day: str | None) -> datetime | None:
        return datetime.fromisoformat(day).replace(tzinfo=UTC) if day else None

    db.session.add(
        Subscriber(
            email=email,
            status=status,
            language=values.pop("language", "en"),
            consented_at=moment(confirmed) or datetime(2026, 12, 1, tzinfo=UTC),
            confirmed_at=moment(confirmed),
            unsubscribed_at=moment(values.pop("unsubscribed", None)),  # type: ignore[arg-type]
            **values,
        )
    )


def gave(email: str, on: str) -> None:
    supporter = Supporter(email=email)
    db.session.add(supporter)
    db.session.flush()
    paid = datetime.fromisoformat(on).replace(tzinfo=UTC)
    db.session.add(
        Payment(supporter_id=supporter.id, amount_minor=500, currency="USD", paid_at=paid)
    )


def test_export_has_the_four_columns_for_confirmed_subscribers_only_and_is_audited(
    app: Flask, app_ctx: None
) -> None:
    subscriber("b@example.org", "confirmed", "2026-10-02T09:30:00", language="es", source="=cmd|x")
    subscriber("a@example.org", "confirmed", "2026-10-01T08:00:00", source="https://n.org/s")
    subscriber("pending@example.org", "pending", None)
    subscriber(None, "unsubscribed", "2026-09-01T00:00:00", unsubscribed="2026-09-05T00:00:00")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["newsletter", "export"])
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.output))) == [
        ["email", "language", "confirmed_at", "source"],
        ["a@example.org", "en", "2026-10-01T08:00:00Z", "https://n.org/s"],
        ["b@example.org", "es", "2026-10-02T09:30:00Z", "'=cmd|x"],
    ]
    db.session.rollback()
    (entry,) = db.session.scalars(select(AuditEntry)).all()
    assert (entry.action, entry.target, entry.detail) == (
        "export_supporters",
        "newsletter",
        "flask newsletter export",
    )


def test_status_counts_subscribers_over_time_and_those_who_later_gave(
    app: Flask, app_ctx: None
) -> None:
    subscriber("gave@example.org", "confirmed", "2026-09-10T00:00:00")
    subscriber("gave-before@example.org", "confirmed", "2026-09-10T00:00:00")
    subscriber("quiet@example.org", "confirmed", "2026-11-03T00:00:00")
    subscriber(None, "unsubscribed", "2026-09-20T00:00:00", unsubscribed="2026-11-01T00:00:00")
    subscriber("pending@example.org", "pending", None)
    gave("gave@example.org", "2026-10-01T00:00:00")  # after confirming: counts
    gave("gave-before@example.org", "2026-08-01T00:00:00")  # before: does not
    db.session.commit()
    numbers = figures.newsletter_figures(now=datetime(2026, 11, 30, tzinfo=UTC))
    assert (numbers.subscribers, numbers.pending, numbers.unsubscribed) == (3, 1, 1)
    assert numbers.later_gave == 1
    assert numbers.months == [
        figures.Month("2026-09", confirmations=3, unsubscribes=0, subscribers=3),
        figures.Month("2026-10", confirmations=0, unsubscribes=0, subscribers=3),
        figures.Month("2026-11", confirmations=1, unsubscribes=1, subscribers=3),
    ]
    output = app.test_cli_runner().invoke(args=["newsletter", "status"]).output
    assert "later gave           1" in output
    assert "2026-11              1             1            3" in output  # then up to now
