"""The audit log records each kind of action, holds ids not personal data, and is for admins."""

from __future__ import annotations

import logging

import pytest

from membership.extensions import db
from membership.models import Supporter
from membership.staff.audit import ACTIONS, record_audit
from tests.conftest import csrf_token, from_dashboard, sign_in


def test_record_audit_names_the_signed_in_staff_and_their_address(
    app, signed_in_client, audit_entries
) -> None:
    client = signed_in_client("admin")
    with app.test_request_context("/staff/x", environ_base={"REMOTE_ADDR": "198.51.100.4"}):
        from flask_login import login_user

        from membership.staff.models import StaffUser

        login_user(db.session.get(StaffUser, client.staff.id))
        record_audit("view_supporter", target="42")
        db.session.commit()
    entry = audit_entries("view_supporter")[0]
    assert (entry.staff_user_id, entry.staff_email, entry.target, entry.remote_addr) == (
        client.staff.id,
        client.staff.email,
        "42",
        "198.51.100.4",
    )


def test_record_audit_only_adds_to_the_session(app, audit_entries) -> None:
    with app.test_request_context("/"):
        record_audit("export_supporters")
        db.session.rollback()  # the caller decides: nothing is written without its commit
    assert audit_entries() == []


def test_unknown_actions_are_refused(app) -> None:
    with app.test_request_context("/"), pytest.raises(ValueError, match="unknown audit action"):
        record_audit("looked_around")


def test_each_kind_of_action_is_recorded(app, staff_user, audit_entries) -> None:
    """Sign-in, failed sign-in, sign-out, supporter detail, both exports: one entry each."""
    person = staff_user("admin")
    with app.app_context():
        supporter = Supporter(email="reader@example.org")
        db.session.add(supporter)
        db.session.commit()
        supporter_id = supporter.id

    client = app.test_client()
    assert sign_in(client, person.email, "wrong password!").status_code == 401
    assert sign_in(client, person.email, person.password).status_code == 302
    assert client.get(f"/staff/supporters/{supporter_id}").status_code == 200
    # A search answers "is this person a supporter?": recorded, the question never is.
    assert client.get("/staff/supporters?q=reader%40example.org").status_code == 200
    assert client.get("/staff/reports/at-risk").status_code == 200
    payments = client.get(
        from_dashboard(client, "/staff/exports/payments.csv?since=2026-01-01&until=2026-02-01")
    )
    assert payments.status_code == 200
    payments.get_data()  # streamed: read to the end
    assert client.get(from_dashboard(client, "/staff/exports/supporters.csv")).status_code == 200
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/logout")})

    entries = audit_entries()
    actions = [e.action for e in entries]
    for action in [
        "sign_in_failed",
        "sign_in",
        "view_supporter",
        "list_supporters",
        "view_at_risk",
        "export_payments",
        "export_supporters",
        "sign_out",
    ]:
        assert actions.count(action) == 1, action
    viewed = entries[actions.index("view_supporter")]
    assert viewed.target == str(supporter_id)
    searched = entries[actions.index("list_supporters")]
    assert (searched.target, searched.detail) == ("page 1", "search")
    assert all(e.remote_addr == "127.0.0.1" for e in entries if e.action != "staff_created")
    # Supporters' personal data never reaches the log: only their id.
    for entry in entries:
        for value in (entry.target, entry.detail, entry.staff_email):
            assert "reader@example.org" not in (value or "")
            assert "A Reader" not in (value or "")


def test_audit_page_lists_entries_newest_first_for_admins(signed_in_client, app) -> None:
    client = signed_in_client("admin")
    with app.test_request_context("/"):
        for n in range(60):
            record_audit("view_supporter", target=str(n))
        db.session.commit()
    first = client.get("/staff/audit").get_data(as_text=True)
    assert "<td>59</td>" in first and "<td>10</td>" in first and "<td>9</td>" not in first
    assert "page=2" in first
    second = client.get("/staff/audit?page=2").get_data(as_text=True)
    assert "<td>9</td>" in second and "<td>59</td>" not in second
    assert client.get("/staff/audit?page=-1").status_code == 200


def test_actions_cover_the_issue() -> None:
    required = {
        "sign_in",
        "sign_in_failed",
        "export_payments",
        "export_supporters",
        "view_supporter",
    }
    assert required <= set(ACTIONS)


def test_sign_in_puts_no_email_or_password_in_the_logs(
    app, staff_user, caplog: pytest.LogCaptureFixture
) -> None:
    person = staff_user("admin")
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    sign_in(client, person.email, "wrong password!")
    sign_in(client, "nobody@newsroom.test", person.password)
    sign_in(client, person.email, person.password)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (person.email, "nobody@newsroom.test", person.password, "wrong password!"):
        assert secret not in logged
