"""Signing in by emailed link: the same answer for any address, one email to a
supporter's, a single-use link of 30 minutes, a session that ends after an idle hour."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from membership.account import service
from membership.account.models import SignInLink
from membership.extensions import db
from tests.account.conftest import (
    NOON,
    SmtpSink,
    ask_for_link,
    link_in,
    page_csrf,
    send_links,
    sign_in,
)

_ip = iter(range(1, 1 << 24))


def own_address() -> dict[str, str]:
    """Each request from its own client address: the per-IP limit stays out of the way."""
    number = next(_ip)
    return {"REMOTE_ADDR": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"}


def links_of(app: Flask) -> list[SignInLink]:
    with app.app_context():
        return list(db.session.scalars(select(SignInLink)))


def test_signed_out_account_page_asks_for_an_email(client: FlaskClient) -> None:
    page = client.get("/account")
    assert page.status_code == 200
    assert 'name="email"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store, private"


def answer(response: Any) -> tuple[int, dict[str, str], str]:
    normalised = re.compile(r"nonce-[\w+/=-]+|nonce=\"[^\"]*\"")
    headers = {k: normalised.sub("n", v) for k, v in response.headers.items()}
    return response.status_code, headers, normalised.sub("n", response.get_data(as_text=True))


def test_the_answer_is_the_same_for_a_supporter_a_stranger_and_an_address_over_its_limit(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int]
) -> None:
    make_supporter("known@example.org")
    make_supporter("busy@example.org", customer="cus_busy")
    for _ in range(3):  # the per-email limit's hourly part
        ask_for_link(client, "busy@example.org", **own_address())
    answers = {
        email: answer(ask_for_link(client, email, **own_address()))
        for email in ("known@example.org", "nobody@example.org", "busy@example.org")
    }
    assert answers["known@example.org"][0] == 200
    assert "If this address supports us, a link is on its way" in answers["known@example.org"][2]
    assert answers["nobody@example.org"] == answers["known@example.org"]
    assert answers["busy@example.org"] == answers["known@example.org"]
    # Queued: the supporter's link, and the busy one's first three; the fourth was dropped.
    assert len(links_of(app)) == 4


def statements_of(app: Flask, run: Callable[[], object]) -> list[str]:
    caught: list[str] = []

    def catch(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        caught.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    return caught


def test_a_supporter_and_a_stranger_cost_the_database_the_same_statements(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int]
) -> None:
    make_supporter("known@example.org")
    seen = {}
    for email in ("known@example.org", "nobody@example.org"):
        data = {"csrf_token": page_csrf(client), "email": email}
        seen[email] = statements_of(
            app, lambda data=data: client.post("/account/sign-in", data=data)
        )
    assert any("account_sign_in_links" in s for s in seen["known@example.org"])
    assert seen["nobody@example.org"] == seen["known@example.org"]


def test_one_email_goes_to_the_supporter_and_none_to_a_stranger(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int], smtp: SmtpSink
) -> None:
    make_supporter("known@example.org")
    ask_for_link(client, "known@example.org")
    ask_for_link(client, "nobody@example.org")
    with app.app_context():
        assert send_links(app, smtp).sent == 1
        assert send_links(app, smtp).sent == 0  # exactly once
    assert [m["To"] for m in smtp.received] == ["known@example.org"]
    text = smtp.received[0].get_body(("plain",)).get_content()
    html = smtp.received[0].get_body(("html",)).get_content()
    assert "because you gave to us with it" in text
    assert "ignore this email" in text and "nothing of the request is kept" in text
    assert "<img" not in html and "utm_" not in text
    assert re.findall(r"https?://\S+", text) == ["http://support.test" + link_in(smtp.received[0])]


def test_the_token_is_kept_only_as_its_hash_once_sent(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int], smtp: SmtpSink
) -> None:
    make_supporter("known@example.org")
    ask_for_link(client, "known@example.org")
    with app.app_context():
        send_links(app, smtp)
    token = link_in(smtp.received[0]).rsplit("/", 1)[1]
    (link,) = links_of(app)
    assert link.status == "sent" and link.nonce is None
    assert link.token_hash == service.token_hash(token) != token


def test_a_refused_email_is_retried_and_then_sent_once(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int], smtp: SmtpSink
) -> None:
    make_supporter("known@example.org")
    ask_for_link(client, "known@example.org")
    smtp.refuse = lambda message: "451 try again later"
    with app.app_context():
        assert send_links(app, smtp).retrying == 1
    smtp.refuse = None
    with app.app_context():
        later = service.clock.now() + timedelta(minutes=2)
        settings = app.extensions["membership.settings"]
        from membership.account import sender
        from tests.account.conftest import with_smtp

        report = sender.send_queued_links(
            with_smtp(settings, smtp.url), app.config["SECRET_KEY"], now=later
        )
    assert report.sent == 1 and len(smtp.received) == 1


def test_the_link_signs_in_once(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int], smtp: SmtpSink
) -> None:
    make_supporter("known@example.org")
    with app.app_context():
        response = sign_in(app, client, smtp, "known@example.org")
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert "Sign out" in client.get("/account").get_data(as_text=True)
    path = link_in(smtp.received[0])
    other = app.test_client()
    assert other.get(path).status_code == 404
    again = other.post(path, data={"csrf_token": page_csrf(other)})
    assert again.status_code == 404
    assert 'name="email"' in other.get("/account").get_data(as_text=True)


def test_opening_the_link_does_not_use_it(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int], smtp: SmtpSink
) -> None:
    """Mail scanners open links: only the reader's press signs in."""
    make_supporter("known@example.org")
    ask_for_link(client, "known@example.org")
    with app.app_context():
        send_links(app, smtp)
    path = link_in(smtp.received[0])
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    (link,) = links_of(app)
    assert link.used_at is None


def test_the_link_expires_after_30_minutes(
    app: Flask,
    client: FlaskClient,
    make_supporter: Callable[..., int],
    smtp: SmtpSink,
    clock_at: Callable[..., None],
) -> None:
    make_supporter("known@example.org")
    clock_at(NOON)
    ask_for_link(client, "known@example.org")
    with app.app_context():
        send_links(app, smtp)
    path = link_in(smtp.received[0])
    clock_at(NOON + timedelta(minutes=30))
    assert client.get(path).status_code == 404
    assert client.post(path, data={"csrf_token": page_csrf(client)}).status_code == 404
    assert 'name="email"' in client.get("/account").get_data(as_text=True)
    with app.app_context():
        assert service.forget_old_links() == 1  # expired unused: nothing of it is kept
    assert links_of(app) == []


@pytest.mark.parametrize(
    "token", ["short", "x" * 43, "x" * 200], ids=["too-short", "unknown", "too-long"]
)
def test_a_bad_token_opens_nothing(client: FlaskClient, token: str) -> None:
    assert client.get(f"/account/sign-in/{token}").status_code == 404
    response = client.post(f"/account/sign-in/{token}", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 404


def test_the_session_ends_after_an_idle_hour(
    app: Flask,
    client: FlaskClient,
    make_supporter: Callable[..., int],
    smtp: SmtpSink,
    clock_at: Callable[..., None],
) -> None:
    make_supporter("known@example.org")
    clock_at(NOON)
    with app.app_context():
        sign_in(app, client, smtp, "known@example.org")
    clock_at(NOON + timedelta(minutes=59))
    assert "Sign out" in client.get("/account").get_data(as_text=True)  # activity
    clock_at(NOON + timedelta(minutes=59 + 59))
    assert "Sign out" in client.get("/account").get_data(as_text=True)
    clock_at(NOON + timedelta(minutes=59 + 59 + 60))
    assert 'name="email"' in client.get("/account").get_data(as_text=True)
    clock_at(NOON + timedelta(minutes=59 + 59 + 61))
    assert 'name="email"' in client.get("/account").get_data(as_text=True)


def test_the_session_ends_after_twelve_hours_however_active(
    app: Flask,
    client: FlaskClient,
    make_supporter: Callable[..., int],
    smtp: SmtpSink,
    clock_at: Callable[..., None],
) -> None:
    make_supporter("known@example.org")
    clock_at(NOON)
    with app.app_context():
        sign_in(app, client, smtp, "known@example.org")
    for half_hours in range(1, 24):
        clock_at(NOON + timedelta(minutes=30 * half_hours))
        assert "Sign out" in client.get("/account").get_data(as_text=True)
    clock_at(NOON + timedelta(hours=12))
    assert 'name="email"' in client.get("/account").get_data(as_text=True)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    app: Flask, signed_in: Callable[[str], FlaskClient], make_supporter: Callable[..., int]
) -> None:
    make_supporter("known@example.org")
    client = signed_in("known@example.org")
    cookie = client.get_cookie("session")
    assert cookie is not None
    copied = app.test_client()
    copied.set_cookie("session", cookie.value)
    assert "Sign out" in copied.get("/account").get_data(as_text=True)
    response = client.post("/account/sign-out", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303
    assert 'name="email"' in client.get("/account").get_data(as_text=True)
    copied.set_cookie("session", cookie.value)
    assert 'name="email"' in copied.get("/account").get_data(as_text=True)


def test_a_staff_session_is_not_a_supporter_session(
    signed_in_client: Callable[..., FlaskClient], make_supporter: Callable[..., int]
) -> None:
    make_supporter("admin1@newsroom.test")
    staff = signed_in_client("admin")
    assert 'name="email"' in staff.get("/account").get_data(as_text=True)


@pytest.mark.parametrize(
    "email",
    ["", "not-an-address", "a@" + "b" * 260 + ".org"],
    ids=["empty", "no-at", "too-long"],
)
def test_a_malformed_address_is_refused_and_nothing_is_queued(
    app: Flask, client: FlaskClient, email: str
) -> None:
    assert ask_for_link(client, email).status_code == 400
    assert links_of(app) == []


def test_a_request_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, make_supporter: Callable[..., int]
) -> None:
    make_supporter("known@example.org")
    response = client.post("/account/sign-in", data={"email": "known@example.org"})
    assert response.status_code == 400
    assert links_of(app) == []


def test_one_client_address_is_limited(client: FlaskClient, app: Flask) -> None:
    address = own_address()
    codes = [ask_for_link(client, f"n{n}@example.org", **address).status_code for n in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SignInLink)) == 0
