"""Concurrent deliveries over real HTTP: the same event never applies twice, and two
events for one new supporter both land on the same supporter."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from werkzeug.serving import make_server

from membership.extensions import db
from membership.ledger import locks
from membership.models import Payment, StripeEvent, Supporter
from tests import stripe_events as se
from tests.conftest import ON_POSTGRES

CONCURRENCY = 8


@pytest.fixture
def served_app(app: Flask) -> Iterator[str]:
    """The app on a real loopback HTTP server with one thread per request."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def post_at_once(url: str, bodies: list[str]) -> list[tuple[int, dict]]:
    """POST every body at the same moment (a barrier releases all threads together)."""
    barrier = threading.Barrier(len(bodies))

    def post(body: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{url}/stripe/webhook",
            data=body.encode(),
            headers={"Stripe-Signature": se.sign(body), "Content-Type": "application/json"},
        )
        barrier.wait(timeout=10)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_same_event_delivered_concurrently_applies_once(served_app: str, app_ctx: None) -> None:
    evt = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=2500, payment_intent="pi_race"),
    )
    results = post_at_once(served_app, [se.body_of(evt)] * CONCURRENCY)

    assert [status for status, _ in results] == [200] * CONCURRENCY
    outcomes = sorted(body["outcome"] for _, body in results)
    assert outcomes == ["duplicate"] * (CONCURRENCY - 1) + ["processed"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    [stored] = db.session.scalars(select(StripeEvent)).all()
    assert stored.attempts == 1


def test_two_gifts_from_one_new_reader_at_once_share_one_supporter(
    served_app: str, app_ctx: None
) -> None:
    bodies = [
        se.body_of(
            se.event(
                "checkout.session.completed",
                se.checkout_session(
                    mode="payment",
                    amount=1000 + n,
                    payment_intent=f"pi_same_{n}",
                    email="new.reader@example.org",
                ),
            )
        )
        for n in range(CONCURRENCY)
    ]
    results = post_at_once(served_app, bodies)
    assert [status for status, _ in results] == [200] * CONCURRENCY
    assert {body["outcome"] for _, body in results} == {"processed"}
    [supporter] = db.session.scalars(select(Supporter)).all()
    payments = db.session.scalars(select(Payment)).all()
    assert len(payments) == CONCURRENCY
    assert {p.supporter_id for p in payments} == {supporter.id}


def test_different_events_about_one_payment_at_once_lose_nothing(
    served_app: str, app_ctx: None
) -> None:
    setup = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=10_000, payment_intent="pi_many"),
    )
    assert post_at_once(served_app, [se.body_of(setup)])[0][0] == 200
    refunds = [
        se.body_of(
            se.event(
                "charge.refunded",
                se.charge(
                    payment_intent="pi_many",
                    amount=10_000,
                    amount_refunded=total,
                    charge_id="ch_many",
                ),
                created=se.BASE_TIME + total,
            )
        )
        for total in (700, 1500, 2500, 4000)
    ]
    renewal = [
        se.body_of(
            se.event(
                "invoice.paid",
                se.invoice(
                    invoice_id="in_pair",
                    subscription="sub_pair",
                    customer="cus_pair",
                    amount=500,
                    paid_at=se.BASE_TIME,
                ),
            )
        ),
        se.body_of(
            se.event(
                "invoice_payment.paid",
                se.invoice_payment(invoice_id="in_pair", payment_intent="pi_pair", amount=500),
            )
        ),
    ]
    results = post_at_once(served_app, refunds + renewal)
    assert [status for status, _ in results] == [200] * len(results)
    db.session.rollback()  # a fresh read: see what the app committed
    payments = {
        p.stripe_invoice_id or p.stripe_payment_intent_id: p
        for p in db.session.scalars(select(Payment))
    }
    assert payments["pi_many"].amount_refunded_minor == 4000
    assert payments["pi_many"].status == "partially_refunded"
    assert payments["in_pair"].stripe_payment_intent_id == "pi_pair"


def waiting_for_advisory_locks() -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        )


@pytest.mark.postgres_only
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="postgres_only: advisory locks are PostgreSQL's; SQLite's single writer "
    "serialises every event (the tests above cover both)",
)
def test_an_event_waits_while_another_transaction_holds_what_it_is_about(
    served_app: str, app_ctx: None
) -> None:
    """Deterministic check of the per-thing locks: a refund cannot touch a payment intent
    another transaction has locked, and applies as soon as the lock is released."""
    gift = se.event(
        "checkout.session.completed",
        se.checkout_session(mode="payment", amount=5_000, payment_intent="pi_locked"),
    )
    assert post_at_once(served_app, [se.body_of(gift)])[0][0] == 200
    refund = se.event(
        "charge.refunded",
        se.charge(payment_intent="pi_locked", amount=5_000, amount_refunded=5_000),
    )
    [lock_id] = locks.lock_ids({"payment_intent": "pi_locked"})
    with db.engine.connect() as holder, ThreadPoolExecutor(max_workers=1) as pool:
        holder.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        delivery = pool.submit(post_at_once, served_app, [se.body_of(refund)])
        deadline = time.monotonic() + 10
        while waiting_for_advisory_locks() == 0:
            assert time.monotonic() < deadline, "the refund never waited for the lock"
            assert not delivery.done(), delivery.result()
        assert not delivery.done()
        holder.rollback()  # releases the lock
        [(status, body)] = delivery.result(timeout=30)
    assert (status, body["outcome"]) == (200, "processed")
    db.session.rollback()
    payment = db.session.scalars(select(Payment)).one()
    assert payment.status == "refunded" and payment.amount_refunded_minor == 5_000
