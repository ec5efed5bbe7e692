"""Staff acting for a supporter from their page: a sign-in link (care and admins, within
the address's own limit), and an admin's cancel at the period's end through Stripe; each
in the audit log by supporter id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.account.models import SignInLink, SupportChange
from membership.extensions import db
from membership.ledger.models import RecurringSupport
from membership.staff.models import AuditEntry
from tests import stripe_events as se
from tests.account.conftest import link_in, page_csrf, send_links
from tests.conftest import csrf_token
from tests.fake_stripe import FakeStripe
from tests.reminders.conftest import SmtpSink

EMAIL = "reader@example.org"


@pytest.fixture
def reader(
    make_supporter: Callable[..., int], make_recurring: Callable[..., int], stripe: FakeStripe
) -> dict[str, int]:
    reader_id = make_supporter(EMAIL, customer="cus_reader")
    other_id = make_supporter("other@example.org", customer="cus_other")
    stripe.add_subscription("sub_reader", "cus_reader")
    stripe.add_subscription("sub_other", "cus_other")
    return {
        "id": reader_id,
        "recurring": make_recurring(reader_id, "cus_reader", "sub_reader"),
        "others": make_recurring(other_id, "cus_other", "sub_other"),
    }


def audit_rows(app: Flask, action: str) -> list[tuple[str | None, str | None, str | None]]:
    with app.app_context():
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [(e.staff_email, e.target, e.detail) for e in entries]


def count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def staff_post(client: FlaskClient, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, "/staff/profile"), **data})


@pytest.mark.parametrize("role", ["care", "admin"])
def test_staff_send_a_sign_in_link_that_signs_the_supporter_in(
    app: Flask,
    reader: dict[str, int],
    signed_in_client: Callable[..., FlaskClient],
    smtp: SmtpSink,
    role: str,
) -> None:
    staff = signed_in_client(role)
    response = staff_post(staff, f"/staff/supporters/{reader['id']}/sign-in-link")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/supporters/{reader['id']}?done=link-sent"
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "A sign-in link is on its way to them." in page
    assert audit_rows(app, "send_sign_in_link") == [
        (staff.staff.email, str(reader["id"]), "queued")  # type: ignore[attr-defined]
    ]
    with app.app_context():
        send_links(app, smtp)
    (message,) = smtp.messages_to(EMAIL)
    reader_browser = app.test_client()
    path = link_in(message)
    signed = reader_browser.post(path, data={"csrf_token": page_csrf(reader_browser, path)})
    assert signed.status_code == 303
    assert "Your support" in reader_browser.get("/account").get_data(as_text=True)


def test_staff_links_count_against_the_addresss_own_limit(
    app: Flask, reader: dict[str, int], signed_in_client: Callable[..., FlaskClient]
) -> None:
    staff = signed_in_client("care")
    limit = 3  # ACCOUNT_SIGN_IN_LIMIT_PER_EMAIL's hourly count
    answers = [
        staff_post(staff, f"/staff/supporters/{reader['id']}/sign-in-link").headers["Location"]
        for _ in range(limit + 1)
    ]
    assert [a.rsplit("=", 1)[1] for a in answers] == ["link-sent"] * limit + ["link-limit"]
    assert count(app, SignInLink) == limit
    assert [d for _, _, d in audit_rows(app, "send_sign_in_link")] == ["queued"] * limit + [
        "over limit"
    ]


def test_a_viewer_cannot_send_a_link(
    app: Flask, reader: dict[str, int], signed_in_client: Callable[..., FlaskClient]
) -> None:
    staff = signed_in_client("viewer")
    assert staff_post(staff, f"/staff/supporters/{reader['id']}/sign-in-link").status_code == 403
    assert count(app, SignInLink) == 0 and audit_rows(app, "send_sign_in_link") == []


def test_an_admin_cancels_at_the_period_end_through_stripe_and_the_webhook(
    app: Flask,
    reader: dict[str, int],
    signed_in_client: Callable[..., FlaskClient],
    stripe: FakeStripe,
) -> None:
    admin = signed_in_client("admin")
    page = admin.get(f"/staff/supporters/{reader['id']}").get_data(as_text=True)
    assert f'name="recurring" type="hidden" value="{reader["recurring"]}"' in page
    response = staff_post(
        admin, f"/staff/supporters/{reader['id']}/cancel", recurring=str(reader["recurring"])
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("?done=cancel-asked")
    (call,) = stripe.calls("POST", "/v1/subscriptions/")
    assert call.path == "/v1/subscriptions/sub_reader"
    assert call.params == {"cancel_at_period_end": "true"}
    with app.app_context():
        change = db.session.scalars(select(SupportChange)).one()
    assert call.headers["Idempotency-Key"] == f"account-change-{change.id}"
    assert audit_rows(app, "cancel_for_supporter") == [
        (admin.staff.email, str(reader["id"]), f"recurring {reader['recurring']}")  # type: ignore[attr-defined]
    ]
    client = app.test_client()
    for event in stripe.events:
        assert se.deliver(client, event).status_code == 200
    with app.app_context():
        recurring = db.session.get(RecurringSupport, reader["recurring"])
        assert recurring is not None and recurring.cancel_at_period_end is True
    # Asked again (a second press): refused, nothing more asked of Stripe.
    again = staff_post(
        admin, f"/staff/supporters/{reader['id']}/cancel", recurring=str(reader["recurring"])
    )
    assert again.status_code == 400
    assert len(stripe.calls("POST", "/v1/subscriptions/")) == 1


def test_care_sees_no_cancel_and_cannot_cancel(
    app: Flask,
    reader: dict[str, int],
    signed_in_client: Callable[..., FlaskClient],
    stripe: FakeStripe,
) -> None:
    care = signed_in_client("care")
    page = care.get(f"/staff/supporters/{reader['id']}").get_data(as_text=True)
    assert "Email them a sign-in link" in page and 'name="recurring"' not in page
    response = staff_post(
        care, f"/staff/supporters/{reader['id']}/cancel", recurring=str(reader["recurring"])
    )
    assert response.status_code == 403
    assert stripe.requests == [] and count(app, SupportChange) == 0


@pytest.mark.parametrize(
    "recurring", ["OTHERS", "", "abc", "-1", "99999999999999"], ids=lambda v: v or "empty"
)
def test_an_admin_cannot_cancel_a_gift_not_the_supporters(
    app: Flask,
    reader: dict[str, int],
    signed_in_client: Callable[..., FlaskClient],
    stripe: FakeStripe,
    recurring: str,
) -> None:
    admin = signed_in_client("admin")
    value = str(reader["others"]) if recurring == "OTHERS" else recurring
    response = staff_post(admin, f"/staff/supporters/{reader['id']}/cancel", recurring=value)
    assert response.status_code == 404
    assert stripe.requests == [] and count(app, SupportChange) == 0


def test_when_stripe_refuses_the_cancel_nothing_is_left_and_it_is_audited(
    app: Flask,
    reader: dict[str, int],
    signed_in_client: Callable[..., FlaskClient],
    stripe: FakeStripe,
) -> None:
    admin = signed_in_client("admin")
    stripe.fail_with = 500
    response = staff_post(
        admin, f"/staff/supporters/{reader['id']}/cancel", recurring=str(reader["recurring"])
    )
    assert response.status_code == 503
    assert count(app, SupportChange) == 0
    assert [d for _, _, d in audit_rows(app, "cancel_for_supporter")] == [
        f"recurring {reader['recurring']}: stripe failed"
    ]
