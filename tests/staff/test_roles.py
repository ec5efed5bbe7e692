"""Each role against every staff URL: the status it gets, and whether any supporter's email
or name is in the body. Viewers see figures only; care finds and opens one supporter at a
time; admins also list, export and read the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from membership.demo import seed as demo_seed
from membership.extensions import db
from membership.models import RecurringSupport, Supporter
from tests.conftest import csrf_token, from_dashboard


class Answer(NamedTuple):
    status: int
    names_supporters: bool = False  # any supporter's email or name in the body


OK = Answer(200)
NAMES = Answer(200, names_supporters=True)
FORBIDDEN = Answer(403)
MISSING = Answer(404)

ROLES = ("viewer", "care", "admin")
# method, path ({id}: a supporter at risk; {missing}: no supporter), then per role.
ROLE_TABLE: list[tuple[str, str, Answer, Answer, Answer]] = [
    # method  path                              viewer     care       admin
    ("GET", "/staff/", OK, OK, OK),
    ("GET", "/staff/reports/sources", OK, OK, OK),
    ("GET", "/staff/reports/cohorts", OK, OK, OK),
    ("GET", "/staff/reports/newsletter", OK, OK, OK),  # counts only: no address
    ("GET", "/staff/reports/at-risk", OK, OK, NAMES),  # care: ids to open, no emails
    ("GET", "/staff/profile", OK, OK, OK),
    ("GET", "/staff/supporters", FORBIDDEN, OK, NAMES),  # care: the exact-email form only
    ("POST", "/staff/supporters/find", FORBIDDEN, NAMES, NAMES),  # followed to the supporter
    ("GET", "/staff/supporters/{id}", FORBIDDEN, NAMES, NAMES),
    ("GET", "/staff/supporters/{missing}", FORBIDDEN, MISSING, MISSING),
    # Acting for a supporter: a sign-in link (followed back to their page), and an admin's
    # cancel, here with no gift named (tests/account/test_staff_actions.py has the rest).
    ("POST", "/staff/supporters/{id}/sign-in-link", FORBIDDEN, NAMES, NAMES),
    ("POST", "/staff/supporters/{missing}/sign-in-link", FORBIDDEN, MISSING, MISSING),
    ("POST", "/staff/supporters/{id}/cancel", FORBIDDEN, FORBIDDEN, MISSING),
    ("GET", "/staff/audit", FORBIDDEN, FORBIDDEN, OK),
    ("GET", "/staff/exports/payments.csv", FORBIDDEN, FORBIDDEN, NAMES),
    ("GET", "/staff/exports/supporters.csv", FORBIDDEN, FORBIDDEN, NAMES),
]
# Sign-in and the account's own profile forms: the same for every role, tested elsewhere.
NOT_ROLE_PAGES = {
    ("GET", "/staff/login"),
    ("POST", "/staff/login"),
    ("GET", "/staff/login/code"),
    ("POST", "/staff/login/code"),
    ("GET", "/staff/logout"),
    ("POST", "/staff/logout"),
    ("POST", "/staff/profile/password"),
    ("GET", "/staff/profile/totp"),
    ("POST", "/staff/profile/totp"),
    ("POST", "/staff/profile/totp/remove"),
}


def _cases() -> list[Any]:
    cases = []
    for method, path, *answers in ROLE_TABLE:
        for role, answer in zip(ROLES, answers, strict=True):
            cases.append(pytest.param(role, method, path, answer, id=f"{role}-{method}-{path}"))
    return cases


class People(NamedTuple):
    at_risk_id: int
    at_risk_email: str
    emails: set[str]
    names: set[str]


@pytest.fixture
def people(app: Flask) -> People:
    """Demo supporters, one of them past due (so the at-risk list has someone)."""
    with app.app_context():
        return _seed_people()


def _seed_people() -> People:
    demo_seed.seed(40, 200, seed_value=3)
    support = db.session.scalars(
        select(RecurringSupport)
        .where(RecurringSupport.supporter_id.is_not(None))
        .order_by(RecurringSupport.id)
        .limit(1)
    ).one()
    db.session.execute(
        update(RecurringSupport).where(RecurringSupport.id == support.id).values(status="past_due")
    )
    db.session.commit()
    supporters = list(db.session.scalars(select(Supporter)))
    at_risk = next(s for s in supporters if s.id == support.supporter_id)
    return People(
        at_risk_id=at_risk.id,
        at_risk_email=at_risk.email,
        emails={s.email for s in supporters},
        names=set(),  # no name is kept (migration 0013)
    )


def _request(client: FlaskClient, method: str, path: str, people: People) -> Any:
    path = path.format(id=people.at_risk_id, missing=2_000_000_000)
    if method == "POST":
        signed_in = hasattr(client, "staff")
        token = csrf_token(client, "/staff/profile" if signed_in else "/staff/login")
        data = {"csrf_token": token, "email": people.at_risk_email}
        return client.post(path, data=data, follow_redirects=signed_in)
    if "/exports/" in path:
        page = client.get("/staff/")
        path = from_dashboard(client, path) if page.status_code == 200 else path
    return client.get(path)


def _names_supporters(body: str, people: People) -> bool:
    return any(email in body for email in people.emails) or any(n in body for n in people.names)


@pytest.mark.parametrize(("role", "method", "path", "answer"), _cases())
def test_each_role_gets_its_answer_from_each_staff_url(
    people: People,
    signed_in_client: Callable[..., FlaskClient],
    role: str,
    method: str,
    path: str,
    answer: Answer,
) -> None:
    client = signed_in_client(role)
    response = _request(client, method, path, people)
    body = response.get_data(as_text=True)
    assert response.status_code == answer.status, body[:300]
    assert _names_supporters(body, people) is answer.names_supporters
    if not answer.names_supporters:
        # Not a supporter's, nor anyone's but the signed-in staff member's own.
        others = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", body)) - {client.staff.email}
        assert others == set()


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, *_ in ROLE_TABLE])
def test_anonymous_visitors_are_sent_to_sign_in(
    people: People, client: FlaskClient, method: str, path: str
) -> None:
    response = _request(client, method, path, people)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=")


def test_the_table_covers_every_staff_url(app: Flask) -> None:
    """A new staff page must say here who may open it."""
    tabled = {(method, re.sub(r"\{\w+\}", "<id>", path)) for method, path, *_ in ROLE_TABLE}
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        path = re.sub(r"<[^>]+>", "<id>", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            served.add((method, path))
    assert served - NOT_ROLE_PAGES == tabled


def test_care_finds_only_by_the_whole_email(
    people: People, signed_in_client: Callable[..., FlaskClient], audit_entries: Any
) -> None:
    """No part of an address finds anyone, and nothing lists who the candidates were."""
    client = signed_in_client("care")
    token = csrf_token(client, "/staff/supporters")
    local, _, domain = people.at_risk_email.partition("@")
    for partial, status in [
        (local, 400),
        (f"@{domain}", 400),
        (people.at_risk_email[1:], 404),
        ("%@example.org", 404),
    ]:
        response = client.post(
            "/staff/supporters/find", data={"csrf_token": token, "email": partial}
        )
        assert response.status_code == status, partial
        assert not _names_supporters(response.get_data(as_text=True), people)
    found = client.post(
        "/staff/supporters/find",
        data={"csrf_token": token, "email": f"  {people.at_risk_email.upper()} "},
    )
    assert found.status_code == 303
    assert found.headers["Location"] == f"/staff/supporters/{people.at_risk_id}"
    finds = audit_entries("find_supporter")
    assert [(e.target, e.detail) for e in finds] == [(None, "not_found")] * 2 + [
        (str(people.at_risk_id), "found")
    ]
    assert all(people.at_risk_email not in repr(vars(e)) for e in audit_entries())


def test_care_cannot_page_through_supporters(
    people: People, signed_in_client: Callable[..., FlaskClient]
) -> None:
    page = signed_in_client("care").get("/staff/supporters?q=example.org&page=2")
    assert page.status_code == 200
    assert not _names_supporters(page.get_data(as_text=True), people)


def test_opening_supporters_is_limited_per_account(
    app: Flask, people: People, signed_in_client: Callable[..., FlaskClient], database_url: str
) -> None:
    """One at a time, by need: not a walk through every id."""
    from membership import create_app
    from membership.extensions import limiter
    from tests.conftest import app_environ, sign_in

    strict = create_app(app_environ(database_url, STAFF_SUPPORTER_LIMIT="3 per hour"))
    try:
        care = signed_in_client("care")
        client = strict.test_client()
        assert sign_in(client, care.staff.email, care.staff.password).status_code == 302
        statuses = [
            client.get(f"/staff/supporters/{people.at_risk_id}").status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        token = csrf_token(client, "/staff/supporters")
        find = {"csrf_token": token, "email": people.at_risk_email}
        assert client.post("/staff/supporters/find", data=find).status_code == 429
        other = signed_in_client("care")  # another account counts on its own
        elsewhere = strict.test_client()
        assert sign_in(elsewhere, other.staff.email, other.staff.password).status_code == 302
        assert elsewhere.get(f"/staff/supporters/{people.at_risk_id}").status_code == 200
    finally:
        limiter.init_app(app)
