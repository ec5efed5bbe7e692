"""The footer widget's prompt: hidden while snoozed or just after a gift; nothing stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership import clock, create_app
from membership.extensions import db
from membership.reminders import prompt
from membership.reminders.models import Reminder
from tests.conftest import PRODUCTION_ENVIRON, app_environ, post_checkout
from tests.fake_stripe import FakeStripe

ORIGIN = "https://news.example"


def prompt_answer(client: FlaskClient) -> dict[str, object]:
    response = client.get("/api/prompt")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


def test_a_new_browser_is_shown_the_prompt(client: FlaskClient) -> None:
    assert prompt_answer(client) == {"show": True}


def test_snooze_hides_the_prompt_and_stores_nothing(client: FlaskClient, app_ctx: None) -> None:
    response = client.post("/remind-me/snooze", json={"days": 14})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "snoozed"
    assert body["snoozed_until"].startswith((clock.now() + timedelta(days=14)).date().isoformat())
    cookie = client.get_cookie(prompt.SNOOZE_COOKIE)
    assert cookie is not None and cookie.http_only
    assert prompt_answer(client) == {"show": False}
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_snooze_from_a_plain_form_answers_a_page(client: FlaskClient) -> None:
    response = client.post("/remind-me/snooze", data={})
    assert response.status_code == 200
    assert "will not show our support prompt" in response.get_data(as_text=True)
    assert prompt_answer(client) == {"show": False}


@pytest.mark.parametrize(
    "days",
    [0, 91, -1, "soon", True, 1.5],
    ids=["zero", "too-long", "negative", "word", "bool", "fraction"],
)
def test_snooze_with_bad_days_is_400(client: FlaskClient, days: object) -> None:
    response = client.post("/remind-me/snooze", json={"days": days})
    assert response.status_code == 400
    assert "from 1 to 90" in response.get_json()["message"]
    assert client.get_cookie(prompt.SNOOZE_COOKIE) is None


def test_snooze_expires(app: Flask) -> None:
    with app.test_request_context():
        response = app.make_response("")
        now = clock.now()
        prompt.snooze(response, prompt.snooze_until(3, now), now)
        value = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        cookies = {prompt.SNOOZE_COOKIE: value}
        assert not prompt.decide(cookies, now + timedelta(days=2)).show
        assert prompt.decide(cookies, now + timedelta(days=3, seconds=1)).show
        assert "Max-Age=259200" in response.headers["Set-Cookie"]


def test_a_forged_or_foreign_cookie_is_ignored(client: FlaskClient, app: Flask) -> None:
    client.set_cookie(prompt.SNOOZE_COOKIE, '{"until": 99999999999}')
    assert prompt_answer(client)["show"] is True
    other = create_app(
        app_environ("sqlite://", SECRET_KEY="another-secret-key-" + "y" * 32)
    ).test_client()
    other.post("/remind-me/snooze", json={"days": 10})
    foreign = other.get_cookie(prompt.SNOOZE_COOKIE)
    assert foreign is not None
    client.set_cookie(prompt.SNOOZE_COOKIE, foreign.value)
    assert prompt_answer(client)["show"] is True


def test_the_thank_you_page_quiets_the_prompt_after_a_gift(
    client: FlaskClient, stripe: FakeStripe
) -> None:
    response = post_checkout(client, frequency="monthly", currency="USD", amount="5")
    session_id = response.location.rsplit("/", 1)[1]
    stripe.complete_session(session_id)
    page = client.get(f"/support/thank-you?session_id={session_id}")
    assert page.status_code == 200
    assert client.get_cookie(prompt.GAVE_COOKIE) is not None
    # Only "don't show": the article page's scripts (analytics, ads) cannot tell a supporter
    # from a reader who asked for a break.
    assert prompt_answer(client) == {"show": False}


def test_an_unpaid_thank_you_page_sets_no_cookie(client: FlaskClient, stripe: FakeStripe) -> None:
    response = post_checkout(client, frequency="once", currency="USD", amount="25")
    session_id = response.location.rsplit("/", 1)[1]
    client.get(f"/support/thank-you?session_id={session_id}")
    assert client.get_cookie(prompt.GAVE_COOKIE) is None
    assert prompt_answer(client)["show"] is True


def test_prompt_answers_article_origins_with_credentials(app: Flask, database_url: str) -> None:
    client = create_app(app_environ(database_url, CORS_ALLOWED_ORIGINS=ORIGIN)).test_client()
    response = client.get("/api/prompt", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert {"Origin", "Cookie"} <= set(response.vary)
    snoozed = client.post("/remind-me/snooze", json={"days": 5}, headers={"Origin": ORIGIN})
    assert snoozed.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_production_cookies_are_secure_and_cross_site(app: Flask) -> None:
    production = create_app(PRODUCTION_ENVIRON)
    response = production.test_client().post("/remind-me/snooze", json={"days": 5})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie
