"""What a sign-up tells someone who types an address they do not own: nothing.

Three addresses are compared: one never seen, one with an active reminder, one over the
per-email limit. Each must get the same status, headers and body, after the same
statements, in about the same time.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from membership.extensions import db
from membership.reminders.models import Reminder
from tests.reminders.conftest import make_reminder

KINDS = ("fresh", "active", "over-limit")
SAMPLES = 15
PER_EMAIL_LIMIT = 5  # the default's hourly part, "5 per hour;10 per day"
_ip = iter(range(1, 1 << 24))


def a_new_client_address() -> dict[str, str]:
    """Each request from its own client address: the per-IP limit (the caller's own, which
    says nothing about the target) stays out of the comparison."""
    number = next(_ip)
    return {"REMOTE_ADDR": f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"}


def sign_up(client: FlaskClient, email: str, as_form: bool = False) -> Any:
    if as_form:
        page = client.get("/remind-me").get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert match
        data = {"csrf_token": match.group(1), "email": email, "when": "1m"}
        return client.post("/remind-me", data=data, environ_base=a_new_client_address())
    return client.post(
        "/remind-me", json={"email": email, "when": "1m"}, environ_base=a_new_client_address()
    )


def addresses(client: FlaskClient, kind: str, count: int) -> Iterator[str]:
    """``count`` addresses in the state ``kind`` names, each used once below."""
    for number in range(count):
        email = f"{kind}-{number}@example.org"
        if kind == "active":
            make_reminder(email=email)
        elif kind == "over-limit":
            for _ in range(PER_EMAIL_LIMIT):
                assert sign_up(client, email).status_code == 202
        yield email


# The caller's own per-IP window: when it resets depends on the clock, not on the address.
_CLOCK_HEADERS = {"X-RateLimit-Reset", "Retry-After"}


def answer(response: Any) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, with what differs per response anyway (nonces, the
    per-IP window's clock) removed."""
    headers = {name: value for name, value in response.headers.items()}
    headers.update({name: "clock" for name in _CLOCK_HEADERS & set(headers)})
    body = response.get_data(as_text=True)
    normalised = re.compile(r"nonce-[\w+/=-]+|nonce=\"[^\"]*\"")
    headers = {name: normalised.sub("nonce", value) for name, value in headers.items()}
    return response.status_code, headers, normalised.sub("nonce", body)


@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
def test_the_answer_is_the_same_whatever_the_address_did_before(
    client: FlaskClient, app_ctx: None, as_form: bool
) -> None:
    answers = {}
    for kind in KINDS:
        (email,) = addresses(client, kind, 1)
        answers[kind] = answer(sign_up(client, email, as_form))
    assert answers["fresh"][0] == (200 if as_form else 202)
    assert answers["active"] == answers["fresh"]
    assert answers["over-limit"] == answers["fresh"]


def statements_of(run: Callable[[], object]) -> list[str]:
    caught: list[str] = []

    def catch(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        caught.append(statement)

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)
    return caught


def test_every_case_sends_the_database_the_same_statements(
    client: FlaskClient, app_ctx: None
) -> None:
    """The same work in every case is what keeps the timing the same: an accepted
    sign-up, an ignored one and a dropped one each send one INSERT, then commit."""
    seen = {}
    for kind in KINDS:
        (email,) = addresses(client, kind, 1)
        seen[kind] = statements_of(lambda email=email: sign_up(client, email))
    assert [s for s in seen["fresh"] if "reminders" in s], seen["fresh"]
    assert seen["active"] == seen["fresh"]
    assert seen["over-limit"] == seen["fresh"]
    db.session.rollback()
    stored = db.session.scalar(
        select(func.count()).select_from(Reminder).where(Reminder.email.like("%-0@example.org"))
    )
    assert stored == 3  # the fresh one's, the active one's, the over-limit one's first


def test_the_answer_takes_as_long_whatever_the_address_did_before(
    client: FlaskClient, app_ctx: None
) -> None:
    """Medians of interleaved samples, within a bound generous enough for a shared machine:
    the statements test above is the exact check, this one catches a slow path added."""
    emails = {kind: list(addresses(client, kind, SAMPLES)) for kind in KINDS}
    for _ in range(3):  # warm up: compiled statements, the template
        sign_up(client, f"warm-{next(_ip)}@example.org")
    took: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for number in range(SAMPLES):
        for kind in KINDS:
            started = time.perf_counter()
            response = sign_up(client, emails[kind][number])
            took[kind].append(time.perf_counter() - started)
            assert response.status_code == 202
    medians = {kind: statistics.median(times) for kind, times in took.items()}
    fastest = min(medians.values())
    assert max(medians.values()) < 1.5 * fastest + 0.002, medians
