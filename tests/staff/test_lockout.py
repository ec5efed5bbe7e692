"""Repeated failures pause an account for a growing delay; sign-in is rate limited per address."""

from __future__ import annotations

from datetime import timedelta

import pytest

from membership.staff.service import LOCK_AFTER_FAILURES, lock_delay
from tests.conftest import csrf_token, sign_in


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (1, timedelta(0)),
        (4, timedelta(0)),
        (5, timedelta(seconds=30)),
        (6, timedelta(seconds=60)),
        (7, timedelta(seconds=120)),
        (11, timedelta(seconds=1920)),
        (12, timedelta(hours=1)),
        (50, timedelta(hours=1)),
    ],
    ids=["one", "four", "five", "six", "seven", "eleven", "twelve-capped", "fifty-capped"],
)
def test_the_pause_doubles_with_each_failure_up_to_an_hour(failures, delay) -> None:
    assert lock_delay(failures) == delay


def test_account_is_paused_after_repeated_failures_then_recovers(
    app, staff_user, frozen_clock, staff_row, audit_entries
) -> None:
    person = staff_user()
    for _ in range(LOCK_AFTER_FAILURES):
        assert sign_in(app.test_client(), person.email, "wrong password!").status_code == 401
    row = staff_row(person.id)
    assert row.failed_count == LOCK_AFTER_FAILURES
    assert row.locked_until == frozen_clock() + timedelta(seconds=30)

    # The right password is refused while paused, with the same message as any failure.
    paused = sign_in(app.test_client(), person.email, person.password)
    assert paused.status_code == 401
    assert audit_entries("sign_in_failed")[-1].detail == "locked"
    assert staff_row(person.id).failed_count == LOCK_AFTER_FAILURES  # not counted

    frozen_clock.advance(seconds=31)
    assert sign_in(app.test_client(), person.email, person.password).status_code == 302
    row = staff_row(person.id)
    assert (row.failed_count, row.locked_until) == (0, None)


def test_each_failure_after_a_pause_pauses_longer(app, staff_user, frozen_clock, staff_row) -> None:
    person = staff_user()
    for _ in range(LOCK_AFTER_FAILURES):
        sign_in(app.test_client(), person.email, "wrong password!")
    frozen_clock.advance(seconds=31)
    assert sign_in(app.test_client(), person.email, "still wrong!!").status_code == 401
    assert staff_row(person.id).locked_until == frozen_clock() + timedelta(seconds=60)


def test_wrong_codes_count_towards_the_pause(app, staff_user, frozen_clock, staff_row) -> None:
    person = staff_user(totp=True)
    client = app.test_client()
    data = {"csrf_token": csrf_token(client, "/staff/login"), "email": person.email}
    assert (
        client.post("/staff/login", data={**data, "password": person.password}).status_code == 302
    )
    token = csrf_token(client, "/staff/login/code")
    for _ in range(LOCK_AFTER_FAILURES):
        response = client.post("/staff/login/code", data={"csrf_token": token, "code": "123456"})
        assert response.status_code == 401
    assert staff_row(person.id).locked_until == frozen_clock() + timedelta(seconds=30)


def test_sign_in_is_rate_limited_per_address(app, staff_user) -> None:
    person = staff_user()
    client = app.test_client()
    token = csrf_token(client, "/staff/login")
    data = {"csrf_token": token, "email": "nobody@newsroom.test", "password": "wrong password!"}
    statuses = [client.post("/staff/login", data=data).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    assert client.get("/staff/login").status_code == 200  # reading the form is not limited

    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    response = sign_in(elsewhere, person.email, person.password)
    assert response.status_code == 302
