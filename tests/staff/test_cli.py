"""``flask staff create|list|set-role|disable|enable|reset-password``."""

from __future__ import annotations

import pytest

from membership.staff import service
from tests.conftest import sign_in

PASSWORD = "a long enough password"


def _run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=["staff", *args], input=input)


def test_create_prompts_for_the_password_and_the_account_can_sign_in(app, audit_entries) -> None:
    result = _run(
        app, "create", "Ana@Newsroom.test", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created admin account ana@newsroom.test" in result.output
    assert PASSWORD not in result.output
    assert sign_in(app.test_client(), "ana@newsroom.test", PASSWORD).status_code == 302
    [entry] = audit_entries("staff_created")
    assert (entry.remote_addr, entry.detail) == (None, "admin")


def test_create_asks_again_for_a_short_password(app) -> None:
    result = _run(
        app,
        "create",
        "bo@newsroom.test",
        "--role",
        "viewer",
        input=f"short\nshort\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "at least 12 characters" in result.output
    with app.app_context():
        assert service.find_staff("bo@newsroom.test").role == "viewer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "not-an-email", "--role", "admin"], "Give the staff member's email"),
        (["create", "x@newsroom.test", "--role", "owner"], "'owner' is not one of"),
        (["create", "x@newsroom.test"], "Missing option '--role'"),
        (["disable", "ghost@newsroom.test"], "There is no staff account"),
        (["reset-password", "ghost@newsroom.test"], "There is no staff account"),
        (["set-role", "ghost@newsroom.test", "care"], "There is no staff account"),
    ],
    ids=[
        "bad-email",
        "unknown-role",
        "no-role",
        "disable-unknown",
        "reset-unknown",
        "role-unknown",
    ],
)
def test_commands_refuse_bad_input_with_a_message(app, args, message) -> None:
    result = _run(app, *args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code != 0
    assert message in result.output


def test_create_refuses_a_second_account_for_one_email(app, staff_user) -> None:
    person = staff_user("viewer")
    result = _run(app, "create", person.email, "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code != 0
    assert "already a staff account" in result.output


def test_disable_then_enable(app, staff_user, audit_entries) -> None:
    person = staff_user("viewer")
    assert _run(app, "disable", person.email).exit_code == 0
    assert sign_in(app.test_client(), person.email, person.password).status_code == 401
    assert _run(app, "enable", person.email).exit_code == 0
    assert sign_in(app.test_client(), person.email, person.password).status_code == 302
    assert [e.action for e in audit_entries()][-4:] == [
        "staff_disabled",
        "sign_in_failed",
        "staff_enabled",
        "sign_in",
    ]


def test_reset_password_lifts_a_lockout_and_can_remove_totp(
    app, staff_user, staff_row, audit_entries, failures
) -> None:
    person = staff_user("admin", totp=True)
    for _ in range(service.LOCK_AFTER_FAILURES):
        sign_in(app.test_client(), person.email, "wrong password!")
    assert failures(person.id)[1] is not None

    result = _run(
        app, "reset-password", person.email, "--remove-totp", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert failures(person.id) == failures(person.id, None) == (0, None)
    assert staff_row(person.id).totp_secret_sealed is None
    assert sign_in(app.test_client(), person.email, PASSWORD).headers["Location"] == "/staff/"
    assert audit_entries("password_reset")[0].detail == "totp_removed"


@pytest.mark.parametrize("role", ["viewer", "care", "admin"])
def test_create_takes_each_role(app, role) -> None:
    result = _run(app, "create", f"{role}@newsroom.test", "--role", role, input=f"{PASSWORD}\n" * 2)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert service.find_staff(f"{role}@newsroom.test").role == role


def test_set_role_changes_what_an_open_session_sees(app, signed_in_client, audit_entries) -> None:
    """A viewer given care reaches supporters on the next request, and back again."""
    client = signed_in_client("viewer")
    assert client.get("/staff/supporters").status_code == 403
    result = _run(app, "set-role", client.staff.email, "care")
    assert result.exit_code == 0, result.output
    assert "is now care" in result.output
    assert client.get("/staff/supporters").status_code == 200
    assert _run(app, "set-role", client.staff.email, "viewer").exit_code == 0
    assert client.get("/staff/supporters").status_code == 403
    changes = audit_entries("staff_role_changed")
    assert [(e.target, e.detail) for e in changes] == [(f"staff:{client.staff.id}", "care")] + [
        (f"staff:{client.staff.id}", "viewer")
    ]
    refused = _run(app, "set-role", client.staff.email, "owner")
    assert refused.exit_code != 0
    assert "owner" in refused.output


def test_list_shows_each_account_and_its_state(app, staff_user) -> None:
    admin = staff_user("admin", totp=True)
    viewer = staff_user("viewer")
    _run(app, "disable", viewer.email)
    lines = _run(app, "list").output.splitlines()
    assert lines == [
        f"{admin.email}\tadmin\tactive\ttotp\tnever",
        f"{viewer.email}\tviewer\tdisabled\tno-totp\tnever",
    ]
