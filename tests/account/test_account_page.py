"""The account page, Stripe's portal, the data download and staff's export: each shows
or touches only what is the signed-in supporter's own."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.account.models import SupportChange
from membership.extensions import db
from membership.ledger.models import RecurringSupport
from membership.newsletter.models import Subscriber
from membership.notices.models import Notice
from membership.reminders.models import Reminder
from membership.staff.models import AuditEntry
from tests.account.conftest import NOON, page_csrf
from tests.fake_stripe import FakeStripe


@pytest.fixture
def two_supporters(
    make_supporter: Callable[..., int],
    make_gift: Callable[..., int],
    make_recurring: Callable[..., int],
) -> tuple[int, int]:
    """The reader, with a refunded gift and a monthly gift; and someone else."""
    reader = make_supporter("reader@example.org", customer="cus_reader")
    other = make_supporter("other@example.org", customer="cus_other")
    make_gift(reader, 2500, amount_refunded_minor=1000, status="partially_refunded")
    make_gift(reader, 500, frequency="monthly", pi=None, stripe_invoice_id="in_reader")
    make_recurring(reader, "cus_reader", "sub_reader", amount_minor=500)
    make_gift(other, 77700)
    make_recurring(other, "cus_other", "sub_other", amount_minor=99900)
    return reader, other


def test_the_page_shows_every_gift_and_recurring_gift_of_the_supporter_only(
    two_supporters: tuple[int, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    page = signed_in("reader@example.org").get("/account")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store, private"
    assert "$25.00" in text and "$10.00" in text  # the gift and its refund
    assert "Partially refunded" in text
    assert text.count("$5.00") == 2  # the monthly payment and the recurring gift
    assert "Active" in text and "Month" in text
    assert "$777" not in text and "$999" not in text


def test_the_portal_opens_for_the_supporters_own_customer(
    two_supporters: tuple[int, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
) -> None:
    client = signed_in("reader@example.org")
    response = client.post("/account/portal", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("https://billing.stripe.test/p/session/")
    (call,) = stripe.calls("POST", "/v1/billing_portal/sessions")
    assert call.params == {"customer": "cus_reader", "return_url": "http://support.test/account"}


def test_no_portal_without_a_customer(
    make_supporter: Callable[..., int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
) -> None:
    make_supporter("guest@example.org", customer=None)
    client = signed_in("guest@example.org")
    response = client.post("/account/portal", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 404
    assert stripe.calls("POST", "/v1/billing_portal") == []


def test_stripe_down_is_a_calm_503(
    two_supporters: tuple[int, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
) -> None:
    client = signed_in("reader@example.org")
    stripe.fail_with = 500
    response = client.post("/account/portal", data={"csrf_token": page_csrf(client)})
    assert response.status_code == 503


@pytest.mark.parametrize("path", ["/account/portal", "/account/recurring/1/cancel"])
def test_signed_out_posts_change_nothing(
    client: FlaskClient, stripe: FakeStripe, path: str
) -> None:
    response = client.post(path, data={"csrf_token": page_csrf(client)})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert stripe.requests == []
    assert client.get("/account/data").status_code == 303


@pytest.mark.parametrize(
    "path", ["/account/portal", "/account/sign-out", "/account/recurring/1/cancel"]
)
def test_every_form_needs_its_csrf_token(
    two_supporters: tuple[int, int],
    signed_in: Callable[[str], FlaskClient],
    stripe: FakeStripe,
    path: str,
) -> None:
    client = signed_in("reader@example.org")
    assert client.post(path).status_code == 400
    assert stripe.requests == []
    assert "Sign out" in client.get("/account").get_data(as_text=True)


def test_the_download_holds_everything_of_theirs_and_nothing_of_anyone_else(
    app: Flask,
    two_supporters: tuple[int, int],
    signed_in: Callable[[str], FlaskClient],
) -> None:
    reader, _ = two_supporters
    with app.app_context():
        for email in ("reader@example.org", "other@example.org"):
            db.session.add(Reminder(email=email, token=f"tok-{email}", due_at=NOON, status="sent"))
        db.session.commit()
    response = signed_in("reader@example.org").get("/account/data")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["supporter"]["id"] == reader
    assert data["supporter"]["email"] == "reader@example.org"
    assert sorted(p["amount_minor"] for p in data["payments"]) == [500, 2500]
    assert [r["stripe_subscription_id"] for r in data["recurring_supports"]] == ["sub_reader"]
    assert [r["email"] for r in data["reminders"]] == ["reader@example.org"]
    assert "token" not in data["reminders"][0]  # a key, not data about them
    assert len(data["sign_in_links"]) == 1
    assert "token_hash" not in data["sign_in_links"][0]
    assert "other@example.org" not in response.get_data(as_text=True)


def test_staff_export_gives_the_same_json_and_is_audited(
    app: Flask,
    two_supporters: tuple[int, int],
    staff_user: Callable[..., object],
) -> None:
    reader, _ = two_supporters
    admin = staff_user("admin", email="editor@newsroom.test")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["supporters", "export", "Reader@Example.org", "--by", "editor@newsroom.test"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["supporter"]["id"] == reader and len(data["payments"]) == 2
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "export_supporters")
        ).one()
        assert entry.target == str(reader)
        assert entry.staff_user_id == admin.id  # type: ignore[attr-defined]
        assert entry.detail == "one supporter"


def test_staff_export_needs_a_staff_account(app: Flask, two_supporters: tuple[int, int]) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["supporters", "export", "reader@example.org", "--by", "nobody@newsroom.test"]
    )
    assert result.exit_code != 0 and "reader@example.org" not in result.output
    assert "sub_reader" not in result.output


def test_the_download_holds_their_newsletter_sign_up_changes_and_emails_owed(
    app: Flask,
    two_supporters: tuple[int, int],
    signed_in: Callable[[str], FlaskClient],
) -> None:
    reader, _ = two_supporters
    with app.app_context():
        recurring = db.session.scalars(
            select(RecurringSupport).where(RecurringSupport.supporter_id == reader)
        ).one()
        db.session.add_all(
            [
                Subscriber(
                    email="reader@example.org",
                    status="confirmed",
                    language="ru",
                    consented_at=NOON,
                    consent_wording="Yes, the newsletter",
                    unsubscribe_token_hash="f" * 64,
                ),
                Subscriber(email="other@example.org", language="en", consented_at=NOON),
                SupportChange(recurring_support_id=recurring.id, kind="pause", resumes_at=NOON),
                Notice(kind="receipt", key="receipt:test", supporter_id=reader),
            ]
        )
        db.session.commit()
    data = json.loads(signed_in("reader@example.org").get("/account/data").get_data(as_text=True))
    (signup,) = data["newsletter_subscriptions"]
    assert (signup["language"], signup["consent_wording"]) == ("ru", "Yes, the newsletter")
    assert "unsubscribe_token_hash" not in signup  # a key, not data about them
    assert [(c["kind"], c["resumes_at"]) for c in data["support_changes"]] == [
        ("pause", NOON.isoformat())
    ]
    assert [n["kind"] for n in data["notices"]] == ["receipt"]
