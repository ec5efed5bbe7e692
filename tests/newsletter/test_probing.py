"""What a sign-up tells someone who types an address they do not own: nothing.

Four addresses are compared: one never seen, one subscribed, one waiting for its
confirmation, one over the per-email limit. Each gets the same status, headers and body,
after the same statements; none changes an existing row or sends a second email.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select

from membership.extensions import db
from membership.newsletter import service
from membership.newsletter.models import Subscriber
from tests.newsletter.conftest import SmtpSink, links_of, sign_up, sign_up_by_form

KINDS = ("new", "subscribed", "pending", "over-limit")
PER_EMAIL_LIMIT = 3  # the default's hourly part, "3 per hour;5 per day"


def prepare(client: FlaskClient, kind: str, send: Callable[..., Any], smtp: SmtpSink) -> str:
    """An address in the state ``kind`` names."""
    email = f"{kind}@example.org"
    if kind == "subscribed":
        assert sign_up(client, email).status_code == 202
        send()
        confirm, _ = links_of(smtp.messages_to(email)[-1])
        assert client.get(f"/newsletter/confirm/{confirm}").status_code == 200
    elif kind == "pending":
        assert sign_up(client, email).status_code == 202
        send()
    elif kind == "over-limit":
        for _ in range(PER_EMAIL_LIMIT):
            assert sign_up(client, email).status_code == 202
        db.session.execute(db.delete(Subscriber).where(Subscriber.email == email))
        db.session.commit()  # a new address again, except for its count
    return email


def answer(response: Any) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, with the per-response nonces removed."""
    nonce = re.compile(r"nonce-[\w+/=-]+|nonce=\"[^\"]*\"")
    headers = {name: nonce.sub("nonce", value) for name, value in response.headers.items()}
    return response.status_code, headers, nonce.sub("nonce", response.get_data(as_text=True))


def row_of(email: str) -> tuple[Any, ...] | None:
    db.session.rollback()
    row = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
    if row is None:
        return None
    return tuple(getattr(row, column.key) for column in Subscriber.__table__.columns)


@pytest.mark.parametrize("as_form", [False, True], ids=["json", "form"])
def test_the_answer_is_the_same_whatever_the_address_did_before(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink, as_form: bool
) -> None:
    answers, before, after = {}, {}, {}
    for kind in KINDS:
        email = prepare(client, kind, send, smtp)
        before[kind] = row_of(email)
        response = sign_up_by_form(client, email) if as_form else sign_up(client, email)
        answers[kind] = answer(response)
        after[kind] = row_of(email)
    assert answers["new"][0] == 202
    for kind in KINDS[1:]:
        assert answers[kind] == answers["new"], kind
    # The known addresses' rows are untouched; the one over its limit stored nothing.
    assert after["subscribed"] == before["subscribed"]
    assert after["pending"] == before["pending"]
    assert after["over-limit"] is None
    # And no second email: one confirmation each, none for the address over its limit.
    send()
    sent = {kind: len(smtp.messages_to(f"{kind}@example.org")) for kind in KINDS}
    assert sent == {"new": 1, "subscribed": 1, "pending": 1, "over-limit": 0}


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
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    seen = {}
    for kind in KINDS:
        email = prepare(client, kind, send, smtp)
        seen[kind] = statements_of(lambda email=email: sign_up(client, email))
    assert [s for s in seen["new"] if "newsletter_subscribers" in s], seen["new"]
    for kind in KINDS[1:]:
        assert seen[kind] == seen["new"], kind


def test_a_sign_up_never_changes_a_subscriber_s_language_or_page(
    client: FlaskClient, app_ctx: None, send: Callable[..., Any], smtp: SmtpSink
) -> None:
    email = prepare(client, "subscribed", send, smtp)
    sign_up(client, email, lang="en", source="https://elsewhere.example/")
    row = db.session.scalar(select(Subscriber).where(Subscriber.email == email))
    assert row is not None and row.status == "confirmed" and row.source is None
    assert service.CONFIRM_WITHIN.days == 7
