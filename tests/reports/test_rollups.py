"""The key property of the report rollups: kept up to date on every webhook, they always
equal a rebuild from the ledger, whatever order and duplication Stripe delivers in."""

from __future__ import annotations

import random
import threading
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError

from membership.demo import seed as demo_seed
from membership.extensions import db
from membership.models import Payment
from membership.reports import rollups
from membership.reports.models import MonthlySource
from membership.webhooks import handlers
from tests import stripe_events as se
from tests.conftest import ON_POSTGRES
from tests.webhooks.test_property import Month, a_month, deliver


def rollup_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row that counts something (rows whose sums fell back to zero are
    equivalent to missing rows)."""
    db.session.expire_all()
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    for model in rollups.ROLLUP_MODELS:
        columns = [c.key for c in model.__table__.columns]
        sums = [c for c in rollups._SUM_COLUMNS[model]]
        rows = []
        for row in db.session.scalars(select(model)):
            values = tuple(getattr(row, c) for c in columns)
            if any(getattr(row, c) for c in sums):
                rows.append(values)
        snapshot[model.__tablename__] = sorted(rows)
    return snapshot


def rebuilt_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    rollups.rebuild()
    db.session.commit()
    return rollup_snapshot()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(month=a_month(), order_seed=st.integers(0, 2**32 - 1))
def test_rollups_after_shuffled_duplicated_webhooks_equal_a_rebuild(
    app: Flask, app_ctx: None, month: Month, order_seed: int
) -> None:
    rng = random.Random(order_seed)
    events = month.events + rng.sample(month.events, k=len(month.events) // 3)
    rng.shuffle(events)
    deliver(app, month, events)

    live = rollup_snapshot()
    if db.session.scalars(select(Payment)).first() is not None:  # not only unpaid trials
        assert live["report_monthly_revenue"], "the month's payments were counted"
    assert live == rebuilt_snapshot()


def test_demo_seed_keeps_rollups_equal_to_a_rebuild(app_ctx: None) -> None:
    summary = demo_seed.seed(60, 400, seed_value=7)
    assert (summary.supporters, summary.payments) == (60, 400)

    live = rollup_snapshot()
    assert sum(row[3] for row in live["report_monthly_revenue"]) == 400  # payments column
    assert live == rebuilt_snapshot()


def test_frequency_learnt_after_the_payment_moves_it_in_the_rollup(
    client: FlaskClient, app_ctx: None
) -> None:
    """An invoice that arrives before its subscription has no frequency yet; when the
    subscription says "monthly", the ledger's bulk UPDATE moves it, and so must the rollup."""
    invoice = se.invoice(
        invoice_id="in_early", subscription="sub_early", customer="cus_early", amount=700
    )
    subscription = se.subscription(subscription_id="sub_early", customer="cus_early", amount=700)
    for evt in (
        se.event("invoice.paid", invoice, created=se.BASE_TIME),
        se.event("customer.subscription.created", subscription, created=se.BASE_TIME + 5),
    ):
        assert se.deliver(client, evt).status_code == 200

    frequencies = {row[2]: row[3] for row in rollup_snapshot()["report_monthly_revenue"]}
    assert frequencies == {"monthly": 1}
    assert rollup_snapshot() == rebuilt_snapshot()


def test_a_failed_event_moves_no_rollup_and_its_replay_moves_it_once(
    app: Flask, client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger transaction writes its rollup moves just before it commits: a handler that
    fails after recording the payment takes them with it, and the replay counts once."""
    original = handlers.HANDLERS["checkout.session.completed"]

    def broken(obj: dict[str, Any], created: datetime) -> None:
        original(obj, created)  # the payment and its rollup moves are made, then it fails
        raise RuntimeError("ledger bug")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
    evt = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_rollup_failed"),
    )
    assert se.deliver(client, evt).status_code == 500
    assert rollup_snapshot()["report_monthly_revenue"] == []

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", original)
    result = app.test_cli_runner().invoke(args=["stripe", "replay", evt["id"]])
    assert result.exit_code == 0, result.output
    [revenue] = rollup_snapshot()["report_monthly_revenue"]
    assert revenue[3:5] == (1, 2500)  # payments, gross_minor
    assert rollup_snapshot() == rebuilt_snapshot()


def test_a_ledger_transaction_run_again_after_a_write_conflict_counts_once(
    client: FlaskClient, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rollup moves gathered by an attempt that the database aborted (a deadlock on
    PostgreSQL) go with it; the attempt run again counts the payment once."""
    original = handlers.HANDLERS["checkout.session.completed"]
    attempts = []

    class Deadlock(Exception):
        sqlstate = "40P01"

    def conflicting_once(obj: dict[str, Any], created: datetime) -> None:
        original(obj, created)
        attempts.append(obj["id"])
        if len(attempts) == 1:
            raise DBAPIError("UPDATE ...", None, Deadlock("deadlock detected"))

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", conflicting_once)
    evt = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_rollup_retried"),
    )
    response = se.deliver(client, evt)
    assert (response.status_code, len(attempts)) == (200, 2)
    [revenue] = rollup_snapshot()["report_monthly_revenue"]
    assert revenue[3:5] == (1, 2500)  # payments, gross_minor
    assert rollup_snapshot() == rebuilt_snapshot()


@pytest.mark.skipif(not ON_POSTGRES, reason="SQLite's single writer already serialises them")
def test_a_rebuild_while_a_webhook_arrives_counts_its_payment_once(
    app: Flask, app_ctx: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook commits while the rebuild reads, with a payment in a rollup row of its own
    (another currency): the rebuild neither waits for it nor holds it, and its payment is
    counted once (by its own upsert; the rebuild's snapshot does not see it)."""
    client = app.test_client()
    first = se.checkout_session(mode="payment", amount=1000, payment_intent="pi_before")
    assert se.deliver(client, se.event("checkout.session.completed", first)).status_code == 200
    during = se.event(
        "checkout.session.completed",
        se.checkout_session(
            mode="payment", amount=2500, currency="eur", payment_intent="pi_during_rebuild"
        ),
    )
    answers: list[int] = []
    webhook = threading.Thread(
        target=lambda: answers.append(se.deliver(client, during).status_code)
    )
    read_ledger = rollups._add_all
    waited_for_the_rebuild: list[bool] = []

    def read_ledger_after_the_webhook_came(*args: Any, **kwargs: Any) -> int:
        if not webhook.is_alive() and not answers:
            webhook.start()
            webhook.join(timeout=5)  # the rebuild locks nothing: the webhook is not held
            waited_for_the_rebuild.append(webhook.is_alive())
        return read_ledger(*args, **kwargs)

    monkeypatch.setattr(rollups, "_add_all", read_ledger_after_the_webhook_came)
    rollups.rebuild()
    db.session.commit()
    monkeypatch.setattr(rollups, "_add_all", read_ledger)
    webhook.join(timeout=30)
    assert answers == [200]
    assert waited_for_the_rebuild == [False]
    assert rollup_snapshot() == rebuilt_snapshot()
    assert rollup_snapshot() == from_scratch()


def from_scratch() -> dict[str, list[tuple[Any, ...]]]:
    """The rollups the ledger gives from empty tables: what a repair must equal."""
    for model in rollups.ROLLUP_MODELS:
        db.session.execute(delete(model))
    db.session.commit()
    return rebuilt_snapshot()


def test_continues_from_many_readers_at_once_are_each_counted_once(app: Flask) -> None:
    """Continue stores its attempt and moves its source's rollup row in one statement
    (``rollups.insert_counted``): readers of the same article, all at once, move the same
    row, and each is counted once, as a rebuild counts them."""
    from tests.conftest import post_checkout

    readers = 12
    answers: list[int] = []

    def reader(n: int) -> None:
        with app.test_client() as client:
            answer = post_checkout(
                client,
                frequency="monthly",
                amount="5",
                currency="EUR",
                source="https://news.example/viral",
                environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
            )
            answers.append(answer.status_code)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303] * readers
    with app.app_context():
        live = rollup_snapshot()
        counted = {
            (row.dimension, row.value): (row.attempts, row.attempts_paid)
            for row in db.session.scalars(select(MonthlySource))
        }
        assert counted[("source", "https://news.example/viral")] == (readers, 0)
        assert live == rebuilt_snapshot()
