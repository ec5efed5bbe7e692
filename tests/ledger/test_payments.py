"""The ledger's rules, called directly (as warehouse tests its services): the webhook tests
only check that events reach them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from membership.extensions import db
from membership.ledger import hooks, payments, prices, supporters
from membership.models import Payment, Supporter

PAID = datetime(2026, 10, 1, 12, tzinfo=UTC)


@pytest.fixture
def ledger(app_ctx: None) -> Iterator[None]:
    """The ledger writing in the test's own transaction, committed at the end of each step."""
    yield
    db.session.rollback()


def facts(**changes: Any) -> payments.PaymentFacts:
    values: dict[str, Any] = dict(
        amount_minor=1500,
        currency="eur",
        paid_at=PAID,
        customer_id="cus_d",
        payment_intent_id="pi_d",
    )
    return payments.PaymentFacts(**{**values, **changes})


def test_a_payment_is_recorded_once_and_announced_once(ledger: None) -> None:
    announced: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        announced.append(kwargs)

    supporter_id = supporters.find_or_create_supporter(customer_id="cus_d", email="d@example.org")
    with hooks.payment_recorded.connected_to(receiver):
        payments.record_payment(facts(), supporter_id=supporter_id)
        payments.record_payment(facts(), supporter_id=supporter_id)
    assert db.session.scalars(select(Payment.amount_minor)).all() == [1500]
    assert announced == [{"supporter_id": supporter_id, "paid_at": PAID}]


def test_a_refund_before_its_payment_applies_when_it_arrives(ledger: None) -> None:
    payments.record_refunds("pi_d", "ch_d", 500)
    payments.record_payment(facts(), supporter_id=None)
    payment = db.session.scalars(select(Payment)).one()
    assert (payment.amount_refunded_minor, payment.status, payment.net_minor) == (
        500,
        "partially_refunded",
        1000,
    )


def test_learning_a_price_gives_its_payments_their_frequency(ledger: None) -> None:
    payments.record_payment(
        facts(invoice_id="in_d", price_id="price_d", frequency="monthly"), supporter_id=None
    )
    prices.learn_price("price_d", "year")
    assert db.session.scalars(select(Payment.frequency)).one() == "annual"
    assert prices.frequency_of("price_d") == "annual"


def test_a_later_email_wins_and_an_earlier_one_does_not(ledger: None) -> None:
    late, early = datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)
    supporters.find_or_create_supporter(customer_id="cus_e", email="new@example.org", as_of=late)
    supporters.find_or_create_supporter(customer_id="cus_e", email="old@example.org", as_of=early)
    assert db.session.scalars(select(Supporter.email)).all() == ["new@example.org"]
