"""Models keep the rules that matter in the database: UTC times, unique emails, money as ints."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from membership.extensions import db
from membership.models import CheckoutAttempt, Supporter


def test_datetimes_come_back_timezone_aware_utc(app_ctx: None) -> None:
    kyiv = timezone(timedelta(hours=2))
    supporter = Supporter(
        email="a@example.org", created_at=datetime(2026, 3, 1, 1, 30, tzinfo=kyiv)
    )
    db.session.add(supporter)
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.scalars(select(Supporter)).one()
    assert loaded.created_at == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(app_ctx: None) -> None:
    db.session.add(Supporter(email="b@example.org", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_supporter_email_is_normalised_and_unique(app_ctx: None) -> None:
    db.session.add(Supporter(email="  Reader@Example.ORG "))
    db.session.commit()
    assert db.session.scalars(select(Supporter.email)).one() == "reader@example.org"
    db.session.add(Supporter(email="reader@example.org"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_attempt_amount_must_be_positive(app_ctx: None) -> None:
    db.session.add(
        CheckoutAttempt(
            frequency="once", amount_minor=0, currency="USD", stripe_session_id="cs_test_zero"
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
