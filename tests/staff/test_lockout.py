"""Repeated failures pause sign-in for a growing delay, per client address and account:
an attacker's address, not the account; sign-in is also rate limited per address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership.staff import service
from membership.staff.service import (
    ACCOUNT_SLOW_AFTER_FAILURES,
    ADDRESS_LOCK_AFTER_FAILURES,
    LOCK_AFTER_FAILURES,
    lock_delay,
)
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


def test_an_address_is_paused_for_the_account_after_repeated_failures_then_recovers(
    app, staff_user, frozen_clock, failures, audit_entries
) -> None:
    person = staff_user()
    for _ in range(LOCK_AFTER_FAILURES):
        assert sign_in(app.test_client(), person.email, "wrong password!").status_code == 401
    assert failures(person.id) == (LOCK_AFTER_FAILURES, frozen_clock() + timedelta(seconds=30))

    # The right password is refused while paused, with the same message as any failure.
    paused = sign_in(app.test_client(), person.email, person.password)
    assert paused.status_code == 401
    assert audit_entries("sign_in_failed")[-1].detail == "locked"
    assert failures(person.id)[0] == LOCK_AFTER_FAILURES  # not counted

    frozen_clock.advance(seconds=31)
    assert sign_in(app.test_client(), person.email, person.password).status_code == 302
    assert failures(person.id) == (0, None)


def test_each_failure_after_a_pause_pauses_longer(app, staff_user, frozen_clock, failures) -> None:
    person = staff_user()
    for _ in range(LOCK_AFTER_FAILURES):
        sign_in(app.test_client(), person.email, "wrong password!")
    frozen_clock.advance(seconds=31)
    assert sign_in(app.test_client(), person.email, "still wrong!!").status_code == 401
    assert failures(person.id)[1] == frozen_clock() + timedelta(seconds=60)


def test_wrong_codes_count_towards_the_pause(app, staff_user, frozen_clock, failures) -> None:
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
    assert failures(person.id)[1] == frozen_clock() + timedelta(seconds=30)


def _from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


ATTACKER = "203.0.113.5"
OWNER = "198.51.100.7"


def test_a_locked_out_attackers_address_does_not_lock_the_owners_address(
    app, staff_user, frozen_clock, failures, audit_entries
) -> None:
    """Knowing an admin's email is not enough to keep the admin out."""
    person = staff_user("admin")
    for _ in range(LOCK_AFTER_FAILURES + 2):
        assert sign_in(_from(app, ATTACKER), person.email, "a guess at it!").status_code == 401
    assert failures(person.id, ATTACKER)[1] is not None  # the attacker's address is paused
    # Even the right password from there is refused, as any failure is.
    assert sign_in(_from(app, ATTACKER), person.email, person.password).status_code == 401
    assert audit_entries("sign_in_failed")[-1].detail == "locked"

    owner = _from(app, OWNER)
    assert sign_in(owner, person.email, person.password).status_code == 302
    assert owner.get("/staff/audit").status_code == 200
    assert failures(person.id, OWNER) == (0, None)
    assert failures(person.id, ATTACKER)[1] is not None  # the owner's success lifts nothing there


def test_an_address_over_its_limit_is_refused_before_any_hashing(
    app, staff_user, frozen_clock, monkeypatch, audit_entries
) -> None:
    """Each try costs an argon2 hash (64 MiB): a flooding address stops costing them."""
    person = staff_user()
    with app.test_request_context("/"):
        for n in range(ADDRESS_LOCK_AFTER_FAILURES):
            with pytest.raises(service.SignInRefused):
                service.check_password(f"guess{n}@newsroom.test", "a guess at it!", ATTACKER)
        hashed = []
        real = service._password_matches
        monkeypatch.setattr(
            service, "_password_matches", lambda *args: hashed.append(1) or real(*args)
        )
        for email in (person.email, "nobody@newsroom.test"):
            with pytest.raises(service.SignInRefused):
                service.check_password(email, person.password, ATTACKER)
        assert hashed == []
        assert service.check_password(person.email, person.password, OWNER).id == person.id
        assert hashed == [1]
    assert [e.detail for e in audit_entries("sign_in_failed")][-2:] == ["address_paused"] * 2


def test_a_guess_from_many_addresses_pauses_only_addresses_the_account_never_used(
    app, staff_user, frozen_clock
) -> None:
    """A distributed guesser is slowed, and the owner at a known address is not."""
    person = staff_user()
    with app.test_request_context("/"):
        user = service.check_password(person.email, person.password, OWNER)
        service.complete_sign_in(user, OWNER)
        for n in range(ACCOUNT_SLOW_AFTER_FAILURES):
            with pytest.raises(service.SignInRefused):
                service.check_password(person.email, "a guess at it!", f"192.0.2.{n + 1}")
        # A new address, even with the right password, waits; the owner's does not.
        with pytest.raises(service.SignInRefused):
            service.check_password(person.email, person.password, "192.0.2.200")
        assert service.check_password(person.email, person.password, OWNER).id == person.id
        frozen_clock.advance(seconds=31)
        assert service.check_password(person.email, person.password, "192.0.2.200")


def test_one_ipv6_subscriber_is_one_address(app) -> None:
    """A /64 is one subscriber's: its addresses share one count."""
    with app.test_request_context("/"):
        key = service.address_key
        assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9")
        assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
        assert key("::ffff:192.0.2.1") == key("192.0.2.1")
        assert key("192.0.2.1") != key("192.0.2.2")


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
