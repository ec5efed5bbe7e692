"""Signing up for a reminder: the form, the footer widget's JSON, validation, CORS, limits."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership import clock, create_app
from membership.extensions import db
from membership.reminders import service
from membership.reminders.models import Reminder
from tests.conftest import app_environ
from tests.reminders.conftest import TODAY, make_reminder

ORIGIN = "https://news.example"


def reminders() -> list[Reminder]:
    db.session.rollback()  # a fresh read: see what the app committed
    return list(db.session.scalars(select(Reminder).order_by(Reminder.id)))


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Reminder)) or 0


def form_token(client: FlaskClient, path: str = "/remind-me") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, "the form has no CSRF token"
    return match.group(1)


def post_form(client: FlaskClient, **fields: str) -> Any:
    return client.post("/remind-me", data={"csrf_token": form_token(client), **fields})


def in_days(days: int) -> str:
    return (clock.now().date() + timedelta(days=days)).isoformat()


def test_form_shows_consent_and_carries_the_gift_being_considered(client: FlaskClient) -> None:
    response = client.get(
        "/remind-me?frequency=monthly&amount=5&currency=EUR&source=https://news.example/a"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "only to send this one reminder" in page
    assert "erase it within 30 days" in page
    assert 'name="amount" value="5"' in page
    assert 'name="currency" value="EUR"' in page
    assert 'value="1m" checked' in page  # one month is the default


def test_form_schedules_a_reminder_with_the_least_data(client: FlaskClient, app_ctx: None) -> None:
    response = post_form(
        client,
        email="  Reader@Example.ORG ",
        when="1w",
        frequency="monthly",
        amount="5",
        currency="EUR",
        source="https://news.example/a?email=reader%40example.org#subscribe",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    due = clock.now().date() + timedelta(days=7)
    assert f"on {due.day} {due:%B %Y}" in response.get_data(as_text=True)
    (reminder,) = reminders()
    assert reminder.email == "reader@example.org"
    assert reminder.due_at == datetime(due.year, due.month, due.day, 8, tzinfo=UTC)
    assert (reminder.frequency, reminder.amount_minor, reminder.currency) == ("monthly", 500, "EUR")
    assert reminder.source == "https://news.example/a"  # the page, not the reader's query
    assert reminder.status == "scheduled"
    assert len(reminder.token) >= 40


def test_form_date_choice_uses_the_date_field(client: FlaskClient, app_ctx: None) -> None:
    response = post_form(client, email="reader@example.org", when="date", date=in_days(10))
    assert response.status_code == 200
    assert reminders()[0].due_at.date().isoformat() == in_days(10)


def test_json_sign_up_answers_202_with_the_date(client: FlaskClient, app_ctx: None) -> None:
    response = client.post(
        "/remind-me",
        json={"email": "reader@example.org", "when": "3m", "amount": 10, "source": "footer"},
    )
    assert response.status_code == 202, response.get_json()
    (reminder,) = reminders()
    assert response.get_json() == {
        "status": "accepted",
        "scheduled_for": reminder.due_at.date().isoformat(),
    }
    assert (reminder.amount_minor, reminder.currency, reminder.frequency) == (1000, "USD", None)


def test_asking_again_never_changes_the_active_reminder(client: FlaskClient, app_ctx: None) -> None:
    """Anyone may type any address: a second sign-up is answered as the first was, and
    the owner's reminder keeps its date, gift and page."""
    first = client.post(
        "/remind-me", json={"email": "reader@example.org", "when": "1w", "source": "https://a"}
    )
    second = client.post(
        "/remind-me",
        json={"email": "READER@example.org", "when": in_days(40), "amount": "7", "source": "x"},
    )
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.get_json() == {"status": "accepted", "scheduled_for": in_days(40)}
    (reminder,) = reminders()
    assert reminder.due_at.date().isoformat() == in_days(7)
    assert (reminder.amount_minor, reminder.source) == (None, "https://a")


def test_a_new_request_after_a_cancel_is_a_new_reminder(app_ctx: None, app: Flask) -> None:
    settings = app.extensions["membership.settings"]
    signup = service.parse_signup(settings, {"email": "r@example.org", "when": "1w"}, TODAY)
    first = service.schedule_reminder(signup)
    service.cancel_reminder(first.token)
    second = service.schedule_reminder(signup)
    assert second.id != first.id
    assert [r.status for r in reminders()] == ["cancelled", "scheduled"]


@pytest.mark.parametrize(
    ("when", "due"),
    [
        ("1w", date(2026, 11, 9)),
        ("1m", date(2026, 12, 2)),
        ("3m", date(2027, 2, 2)),
        ("2026-11-03", date(2026, 11, 3)),
        ("2027-11-01", date(2027, 11, 1)),
    ],
    ids=["one-week", "one-month", "three-months", "tomorrow", "last-day-within-a-year"],
)
def test_when_gives_the_day(when: str, due: date) -> None:
    assert service.due_date(when, TODAY) == due


def test_months_keep_the_day_or_the_last_of_the_month() -> None:
    assert service.due_date("1m", date(2027, 1, 31)) == date(2027, 2, 28)
    assert service.due_date("3m", date(2027, 11, 30)) == date(2028, 2, 29)


BAD_SIGNUPS = [
    ({"email": "not-an-email", "when": "1m"}, "email", "valid email"),
    ({"email": "", "when": "1m"}, "email", "Enter your email"),
    ({"email": "a@" + "b" * 260 + ".org", "when": "1m"}, "email", "254"),
    ({"email": "r@example.org", "when": "2w"}, "when", "1 week, 1 month, 3 months"),
    ({"email": "r@example.org", "when": "tomorrow"}, "when", "1 week, 1 month, 3 months"),
    ({"email": "r@example.org", "when": "2020-01-01"}, "when", "after today"),
    ({"email": "r@example.org", "when": "TODAY"}, "when", "after today"),
    ({"email": "r@example.org", "when": "FAR"}, "when", "within the next year"),
    ({"email": "r@example.org", "when": "2027-02-30"}, "when", "does not exist"),
]
BAD_IDS = [
    "invalid-email",
    "missing-email",
    "email-too-long",
    "unknown-when",
    "when-word",
    "date-in-the-past",
    "date-today",
    "date-beyond-a-year",
    "impossible-date",
]


def _resolve(fields: dict[str, str]) -> dict[str, str]:
    when = fields.get("when")
    if when == "TODAY":
        fields = {**fields, "when": clock.now().date().isoformat()}
    elif when == "FAR":
        fields = {**fields, "when": in_days(367)}
    return fields


@pytest.mark.parametrize(("fields", "field", "message"), BAD_SIGNUPS, ids=BAD_IDS)
def test_bad_json_sign_up_is_400_with_a_message_and_nothing_stored(
    client: FlaskClient, app_ctx: None, fields: dict[str, str], field: str, message: str
) -> None:
    response = client.post("/remind-me", json=_resolve(fields))
    assert response.status_code == 400
    body = response.get_json()
    assert body["status"] == "invalid"
    assert message in body["errors"][field]
    assert count() == 0


@pytest.mark.parametrize(("fields", "field", "message"), BAD_SIGNUPS, ids=BAD_IDS)
def test_bad_form_sign_up_is_400_with_a_message_and_nothing_stored(
    client: FlaskClient, app_ctx: None, fields: dict[str, str], field: str, message: str
) -> None:
    response = post_form(client, **_resolve(fields))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Please check the form" in page
    assert message.replace("'", "&#39;") in page
    assert count() == 0


@pytest.mark.parametrize(
    "body",
    ['["reader@example.org"]', '"reader@example.org"', "{not json", "null"],
    ids=["array", "string", "malformed", "null"],
)
def test_json_that_is_not_an_object_is_400(client: FlaskClient, app_ctx: None, body: str) -> None:
    response = client.post("/remind-me", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["message"]
    assert count() == 0


def test_form_without_csrf_token_is_400_and_stores_nothing(
    client: FlaskClient, app_ctx: None
) -> None:
    response = client.post("/remind-me", data={"email": "reader@example.org", "when": "1m"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert count() == 0


def test_form_with_a_forged_csrf_token_is_400(client: FlaskClient, app_ctx: None) -> None:
    client.get("/remind-me")
    response = client.post(
        "/remind-me", data={"csrf_token": "forged", "email": "reader@example.org", "when": "1m"}
    )
    assert response.status_code == 400
    assert count() == 0


def test_json_with_a_form_content_type_is_not_a_way_around_csrf(
    client: FlaskClient, app_ctx: None
) -> None:
    # A cross-site <form> can send text/plain but not application/json.
    response = client.post(
        "/remind-me",
        data='{"email": "reader@example.org", "when": "1m"}',
        content_type="text/plain",
    )
    assert response.status_code == 400
    assert count() == 0


def test_sign_ups_over_the_per_email_limit_are_answered_as_accepted_and_dropped(
    client: FlaskClient, app_ctx: None
) -> None:
    """The sixth sign-up in an hour for an address is answered as the first, and stores
    nothing: a 429 told a stranger that the address had signed up lately."""
    (reminder,) = [make_reminder()]
    service.cancel_reminder(reminder.token)  # so that the sign-ups below would schedule one
    answers = []
    for number in range(6):
        response = client.post(
            "/remind-me",
            json={"email": "Reader@example.org", "when": "1m"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{number}"},
        )
        answers.append((response.status_code, response.get_json()))
    assert len(set(map(repr, answers))) == 1 and answers[0][0] == 202
    # The first scheduled one and the next four changed nothing; with none active now,
    # a seventh would schedule one, but the address is over its limit.
    service.cancel_reminder(reminders()[-1].token)
    limited = client.post(
        "/remind-me",
        json={"email": "reader@example.org ", "when": "1m"},
        environ_base={"REMOTE_ADDR": "10.0.1.1"},
    )
    assert (limited.status_code, limited.get_json()) == answers[0]
    assert [r.status for r in reminders()] == ["cancelled", "cancelled"]
    other = client.post(
        "/remind-me",
        json={"email": "someone@example.org", "when": "1m"},
        environ_base={"REMOTE_ADDR": "10.0.1.2"},
    )
    assert other.status_code == 202
    assert reminders()[-1].email == "someone@example.org"


def test_sign_ups_are_limited_per_ip(client: FlaskClient, app_ctx: None) -> None:
    address = {"REMOTE_ADDR": "192.0.2.7"}
    for number in range(10):
        response = client.post(
            "/remind-me", json={"email": f"r{number}@example.org"}, environ_base=address
        )
        assert response.status_code == 202
    limited = client.post("/remind-me", json={"email": "r@example.org"}, environ_base=address)
    assert limited.status_code == 429
    page = client.post(
        "/remind-me", data={"email": "r@example.org"}, environ_base=address
    ).get_data(as_text=True)
    assert "Too many requests" in page
    assert count() == 10
    elsewhere = client.post(
        "/remind-me", json={"email": "r@example.org"}, environ_base={"REMOTE_ADDR": "192.0.2.8"}
    )
    assert elsewhere.status_code == 202


def test_limiter_storage_never_holds_an_email_or_ip(client: FlaskClient) -> None:
    from membership.extensions import limiter

    client.post(
        "/remind-me",
        json={"email": "secret.reader@example.org", "when": "1w"},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    storage = limiter._storage  # memory storage: a dict of keys
    keys = " ".join(str(key) for key in getattr(storage, "storage", {}))
    assert "remind-email:" in keys and "remind-ip:" in keys
    assert "secret.reader" not in keys
    assert "198.51.100.23" not in keys


@pytest.fixture
def cors_client(app: Flask, database_url: str) -> FlaskClient:
    environ = app_environ(database_url, CORS_ALLOWED_ORIGINS=f"{ORIGIN}, https://other.example/")
    return create_app(environ).test_client()


def test_preflight_from_an_article_origin_is_allowed(cors_client: FlaskClient) -> None:
    response = cors_client.options(
        "/remind-me",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert "Origin" in response.headers["Vary"]


def test_json_sign_up_from_an_article_origin_can_read_the_answer(
    cors_client: FlaskClient, app_ctx: None
) -> None:
    response = cors_client.post(
        "/remind-me", json={"email": "reader@example.org"}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "http://news.example", "https://news.example.evil.example"],
    ids=["other-site", "other-scheme", "suffix-trick"],
)
def test_other_origins_get_no_cors_headers(cors_client: FlaskClient, origin: str) -> None:
    response = cors_client.options(
        "/remind-me", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    prompt = cors_client.get("/api/prompt", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in prompt.headers


def test_a_page_with_a_long_address_is_kept_cut_not_refused(app: Flask, client) -> None:
    """The widget posts ``location.href``; a newsletter's link makes it long. The query
    goes (it names the reader), and what is left is cut to the 500 characters kept."""
    from membership.reminders.models import Reminder

    tracked = "https://news.example/2026/11/story?" + "&".join(
        f"mc_eid{n}=abcdef0123456789" for n in range(30)
    )
    long_path = "https://news.example/" + "a" * 600
    for email, source in (("one@example.org", tracked), ("two@example.org", long_path)):
        response = client.post("/remind-me", json={"email": email, "when": "1m", "source": source})
        assert response.status_code == 202, response.get_json()
    with app.app_context():
        kept = dict(db.session.execute(select(Reminder.email, Reminder.source)).all())
    assert kept == {
        "one@example.org": "https://news.example/2026/11/story",
        "two@example.org": long_path[:500],
    }


@pytest.mark.parametrize(
    ("considering", "kept"),
    [
        ({"frequency": "weekly", "amount": "5", "currency": "USD"}, (None, 500, "USD")),
        ({"frequency": "monthly", "currency": "CHF"}, ("monthly", None, None)),
        ({"frequency": "once", "amount": "5 dollars"}, ("once", None, None)),
        ({"frequency": "once", "amount": "0.50", "currency": "EUR"}, ("once", None, "EUR")),
    ],
    ids=["unknown-frequency", "unaccepted-currency", "amount-not-a-number", "amount-below-min"],
)
def test_what_the_article_says_the_reader_considered_is_dropped_when_not_valid(
    app: Flask, client: FlaskClient, considering: dict[str, str], kept: tuple[Any, ...]
) -> None:
    """Hidden fields from a link or widget we do not control: the reader can neither see
    nor fix them, so a bad value is dropped and the sign-up goes through, as a form or as
    JSON, instead of being refused on every try."""
    from membership.reminders.models import Reminder

    as_json = client.post("/remind-me", json={"email": "one@example.org", **considering})
    assert as_json.status_code == 202, as_json.get_json()
    as_form = post_form(client, email="two@example.org", when="1m", **considering)
    assert as_form.status_code == 200
    with app.app_context():
        rows = db.session.execute(
            select(Reminder.frequency, Reminder.amount_minor, Reminder.currency)
        ).all()
    assert [tuple(row) for row in rows] == [kept, kept]
