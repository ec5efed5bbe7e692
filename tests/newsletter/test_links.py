"""The email's links: confirm once within 7 days; unsubscribe (page, one-click POST);
wrong, used or expired tokens are 404 and change nothing; unconfirmed sign-ups erased."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership import clock
from membership.extensions import db
from membership.newsletter import service
from membership.newsletter.models import Subscriber
from tests.newsletter.conftest import SmtpSink, links_of, sign_up


def rows() -> list[tuple[Any, ...]]:
    db.session.rollback()
    return [
        tuple(getattr(row, column.key) for column in Subscriber.__table__.columns)
        for row in db.session.scalars(select(Subscriber).order_by(Subscriber.id))
    ]


@pytest.fixture
def emailed(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> tuple[str, str]:
    """A sign-up whose confirmation email arrived: its (confirm, unsubscribe) tokens."""
    sign_up(client, lang="en", source="https://news.example.org/story")
    send()
    return links_of(smtp.received[-1])


def test_the_link_confirms_once(client: FlaskClient, emailed: tuple[str, str]) -> None:
    confirm, _ = emailed
    response = client.get(f"/newsletter/confirm/{confirm}")
    assert response.status_code == 200 and "You are subscribed" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store, private"
    row = db.session.scalar(select(Subscriber))
    assert row is not None and row.status == "confirmed" and row.confirmed_at is not None
    assert row.confirm_token_hash is None  # single use: nothing left to match
    before = rows()
    again = client.get(f"/newsletter/confirm/{confirm}")
    assert again.status_code == 404 and "does not work" in again.get_data(as_text=True)
    assert rows() == before


def test_the_link_expires_after_7_days(
    client: FlaskClient, emailed: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    confirm, _ = emailed
    later = clock.now() + timedelta(days=7, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    before = rows()
    assert client.get(f"/newsletter/confirm/{confirm}").status_code == 404
    assert rows() == before


@pytest.mark.parametrize(
    "token",
    ["x" * 43, "short", "a" * 65, "not%20a%20token", "../../etc"],
    ids=["unknown", "short", "long", "escaped", "path"],
)
def test_wrong_tokens_are_404_and_change_nothing(
    client: FlaskClient, emailed: tuple[str, str], token: str
) -> None:
    before = rows()
    assert client.get(f"/newsletter/confirm/{token}").status_code == 404
    assert client.get(f"/newsletter/unsubscribe/{token}").status_code == 404
    assert client.post(f"/newsletter/unsubscribe/{token}").status_code == 404
    assert rows() == before


def test_the_unsubscribe_token_does_not_confirm_nor_the_confirm_token_unsubscribe(
    client: FlaskClient, emailed: tuple[str, str]
) -> None:
    confirm, unsubscribe = emailed
    before = rows()
    assert client.get(f"/newsletter/confirm/{unsubscribe}").status_code == 404
    assert client.post(f"/newsletter/unsubscribe/{confirm}").status_code == 404
    assert rows() == before


def test_the_unsubscribe_page_asks_and_changes_nothing(
    client: FlaskClient, emailed: tuple[str, str]
) -> None:
    _, unsubscribe = emailed
    before = rows()
    page = client.get(f"/newsletter/unsubscribe/{unsubscribe}")
    assert page.status_code == 200
    assert f'action="/newsletter/unsubscribe/{unsubscribe}"' in page.get_data(as_text=True)
    assert rows() == before


def test_one_click_unsubscribe_of_a_subscriber_erases_the_address(
    client: FlaskClient, emailed: tuple[str, str]
) -> None:
    confirm, unsubscribe = emailed
    client.get(f"/newsletter/confirm/{confirm}")
    # What a mail client sends (RFC 8058): a POST with this body, no cookie, no CSRF token.
    response = client.post(
        f"/newsletter/unsubscribe/{unsubscribe}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    db.session.rollback()
    row = db.session.scalar(select(Subscriber))
    assert row is not None and row.status == "unsubscribed" and row.unsubscribed_at is not None
    assert row.email is None and row.consent_wording is None and row.consent_privacy_url is None
    assert row.unsubscribe_token_hash is None and row.confirm_token_hash is None
    # Kept for the counts only: the dates, the language, the page.
    assert row.confirmed_at is not None and row.language == "en"
    assert client.post(f"/newsletter/unsubscribe/{unsubscribe}").status_code == 404


def test_unsubscribing_a_pending_sign_up_deletes_it(
    client: FlaskClient, emailed: tuple[str, str]
) -> None:
    confirm, unsubscribe = emailed
    assert client.post(f"/newsletter/unsubscribe/{unsubscribe}").status_code == 200
    assert rows() == []
    assert client.get(f"/newsletter/confirm/{confirm}").status_code == 404


def test_unconfirmed_sign_ups_are_erased_after_7_days(
    client: FlaskClient, emailed: tuple[str, str], app_ctx: None
) -> None:
    confirmed_email = "confirmed@example.org"
    sign_up(client, confirmed_email)
    db.session.execute(
        db.update(Subscriber)
        .where(Subscriber.email == confirmed_email)
        .values(status="confirmed", confirmed_at=clock.now())
    )
    db.session.commit()
    now = clock.now()
    assert service.erase_unconfirmed(now=now + timedelta(days=6)) == 0
    assert service.erase_unconfirmed(now=now + timedelta(days=7, seconds=1)) == 1
    remaining = db.session.scalars(select(Subscriber.email)).all()
    assert remaining == [confirmed_email]


def test_flask_newsletter_erase(client: FlaskClient, app_ctx: None, app: Any) -> None:
    sign_up(client)
    db.session.execute(db.update(Subscriber).values(consented_at=clock.now() - timedelta(days=8)))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["newsletter", "erase"])
    assert result.exit_code == 0 and "erased 1" in result.output
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
