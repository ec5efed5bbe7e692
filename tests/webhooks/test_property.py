"""Property: a month of activity delivered shuffled, with duplicates, yields exactly the
ledger that the same events delivered once, in order, yield: every row, every column of
both exports, and the rollups.

The months hold what Stripe really sends: subscriptions with no checkout attempt of ours
(made in the Dashboard), invoices before their subscription's events, the current API's
invoice (its price named, the interval only on the subscription's price), switches from
monthly to annual, trials, and customers who change their email.

Events are built from Stripe's example objects and delivered, signed, through the
real webhook route.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from membership.extensions import db
from membership.models import (
    ChargeAdjustment,
    CheckoutAttempt,
    InvoicePaymentIntent,
    Payment,
    PaymentFailure,
    RecurringSupport,
    StripeEvent,
    Supporter,
)
from membership.reports import export
from membership.reports.models import MonthlyRevenue, MonthlySource, RecurringFlow
from tests import stripe_events as se

DAY = 86_400
EMAILS = [f"reader{n}@example.org" for n in range(6)]
CURRENCIES = ["usd", "eur"]


@dataclass
class Month:
    """Generated activity: checkout attempts that exist beforehand, and Stripe's events."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, event_type: str, obj: dict[str, Any], at: int) -> None:
        self.events.append(se.event(event_type, obj, created=se.BASE_TIME + at))

    def attempt(self, n: int, frequency: str, amount: int, currency: str) -> str:
        attempt_id = f"{n:032x}"
        self.attempts.append(
            dict(
                id=attempt_id,
                frequency=frequency,
                amount_minor=amount,
                currency=currency.upper(),
                stripe_session_id=f"cs_test_story{n}",
                source=f"https://news.example/story/{n}",
                utm_campaign=f"c{n % 3}",
            )
        )
        return attempt_id


@st.composite
def one_time_gift(draw: st.DrawFn, n: int, month: Month) -> None:
    email = draw(st.sampled_from(EMAILS))
    currency = draw(st.sampled_from(CURRENCIES))
    amount = draw(st.integers(200, 20_000))
    start = draw(st.integers(0, 25 * DAY))
    from_form = draw(st.booleans())
    attempt_id = month.attempt(n, "once", amount, currency) if from_form else None
    pi = f"pi_once{n}"
    month.add(
        "checkout.session.completed",
        se.checkout_session(
            mode="payment",
            amount=amount,
            currency=currency,
            attempt_id=attempt_id,
            frequency="once",
            email=email,
            payment_intent=pi,
            session_id=f"cs_test_story{n}",
        ),
        start,
    )
    _adjustments(draw, month, pi, f"ch_once{n}", amount, currency, start)


def _adjustments(
    draw: st.DrawFn, month: Month, pi: str, charge_id: str, amount: int, currency: str, paid: int
) -> None:
    refund = draw(st.sampled_from(["none", "none", "partial", "full", "partial-then-full"]))
    at = paid + draw(st.integers(60, 3 * DAY))
    if refund in ("partial", "partial-then-full"):
        month.add(
            "charge.refunded",
            se.charge(
                payment_intent=pi,
                amount=amount,
                amount_refunded=amount // 3,
                charge_id=charge_id,
                currency=currency,
            ),
            at,
        )
        at += draw(st.integers(1, DAY))
    if refund in ("full", "partial-then-full"):
        month.add(
            "charge.refunded",
            se.charge(
                payment_intent=pi,
                amount=amount,
                amount_refunded=amount,
                charge_id=charge_id,
                currency=currency,
            ),
            at,
        )
    dispute = draw(st.sampled_from(["none", "none", "none", "open", "won", "lost"]))
    if dispute != "none":
        at = paid + draw(st.integers(DAY, 4 * DAY))
        month.add(
            "charge.dispute.created",
            se.dispute(
                payment_intent=pi,
                charge_id=charge_id,
                amount=amount,
                status="needs_response",
                currency=currency,
                dispute_id=f"dp_{pi}",
            ),
            at,
        )
        if dispute != "open":
            month.add(
                "charge.dispute.closed",
                se.dispute(
                    payment_intent=pi,
                    charge_id=charge_id,
                    amount=amount,
                    status=dispute,
                    currency=currency,
                    dispute_id=f"dp_{pi}",
                ),
                at + draw(st.integers(1, DAY)),
            )


@st.composite
def recurring_supporter(draw: st.DrawFn, n: int, month: Month) -> None:
    """A subscription's month: from our Checkout (with or without an attempt of ours) or
    made in the Dashboard (no checkout, no metadata); maybe a trial first, renewals, a
    failure, a switch from monthly to annual, and an ending."""
    email_index = draw(st.integers(0, len(EMAILS) - 1))
    email, customer = EMAILS[email_index], f"cus_{email_index}"
    frequency = draw(st.sampled_from(["monthly", "annual"]))
    interval = "month" if frequency == "monthly" else "year"
    currency = draw(st.sampled_from(CURRENCIES))
    amount = draw(st.integers(200, 10_000))
    start = draw(st.integers(0, 10 * DAY))
    origin = draw(st.sampled_from(["checkout", "checkout", "dashboard"]))
    attempt_id = None
    if origin == "checkout" and draw(st.booleans()):
        attempt_id = month.attempt(n, frequency, amount, currency)
    sub = f"sub_{n}"
    # What the subscription is now: its price (id, interval, amount), changed by a switch.
    terms = {"price": f"price_{n}_{interval}", "interval": interval, "amount": amount}
    trial = draw(st.booleans())

    def subscription(status: str, at: int, **changes: Any) -> dict[str, Any]:
        return se.subscription(
            subscription_id=sub,
            customer=customer,
            amount=terms["amount"],
            currency=currency,
            interval=terms["interval"],
            price=terms["price"],
            status=status,
            start_date=se.BASE_TIME + start,
            attempt_id=attempt_id,
            frequency=frequency,  # metadata set at Checkout: Stripe never updates it
            trial_end=se.BASE_TIME + start + 7 * DAY if trial else None,
            **changes,
        )

    def invoice(k: int, at: int, **changes: Any) -> dict[str, Any]:
        values: dict[str, Any] = dict(
            invoice_id=f"in_{n}_{k}",
            subscription=sub,
            customer=customer,
            amount=terms["amount"],
            currency=currency,
            email=email,
            paid_at=se.BASE_TIME + at,
            attempt_id=attempt_id,
            frequency=frequency,
            price=terms["price"],
        )
        return se.invoice(**{**values, **changes})

    def paid_invoice(k: int, at: int, **changes: Any) -> None:
        obj = invoice(k, at, **changes)
        month.add("invoice.paid", obj, at)
        if draw(st.booleans()):  # Stripe sends both for one invoice: counted once
            month.add("invoice.payment_succeeded", obj, at)
        pi = f"pi_{n}_{k}"
        month.add(
            "invoice_payment.paid",
            se.invoice_payment(
                invoice_id=obj["id"],
                payment_intent=pi,
                amount=obj["amount_paid"],
                currency=currency,
            ),
            at,
        )
        _adjustments(draw, month, pi, f"ch_{n}_{k}", obj["amount_paid"], currency, at)

    first_status = "trialing" if trial else "active"
    month.add("customer.subscription.created", subscription(first_status, start), start)
    if trial:  # Stripe's first invoice of a trial is for nothing
        month.add("invoice.paid", invoice(0, start, amount_paid=0), start)
    else:
        paid_invoice(0, start)
    if origin == "checkout":
        month.add(
            "checkout.session.completed",
            se.checkout_session(
                mode="subscription",
                amount=0 if trial else amount,
                currency=currency,
                attempt_id=attempt_id,
                frequency=frequency,
                email=email,
                customer=customer,
                subscription=sub,
                session_id=f"cs_test_story{n}",
            ),
            start + 1,
        )
    now = start
    if trial:
        now = start + 7 * DAY
        if draw(st.booleans()):  # cancelled during the trial: never a paying supporter
            month.add(
                "customer.subscription.deleted",
                subscription(
                    "canceled", now, canceled_at=se.BASE_TIME + now, ended_at=se.BASE_TIME + now
                ),
                now,
            )
            return
        paid_invoice(1, now, billing_reason="subscription_cycle")
        month.add("customer.subscription.updated", subscription("active", now), now)

    renewals = draw(st.integers(0, 2)) if frequency == "monthly" else 0
    first_renewal = 2 if trial else 1
    for k in range(first_renewal, first_renewal + renewals):
        now = now + 10 * DAY
        if terms["interval"] == "month" and draw(st.integers(0, 3)) == 0:
            # The supporter switches to an annual gift: a new price, and an invoice at once
            # for the year less the unused part of the month (Stripe's proration).
            terms.update(price=f"price_{n}_year_switch", interval="year", amount=amount * 10)
            month.add("customer.subscription.updated", subscription("active", now), now)
            paid_invoice(
                k, now, amount_paid=amount * 10 - amount // 3, billing_reason="subscription_update"
            )
            continue
        if draw(st.booleans()):
            failed_at = now
            month.add(
                "invoice.payment_failed",
                invoice(k, failed_at, status="open", attempt_count=1),
                failed_at,
            )
            month.add(
                "customer.subscription.updated", subscription("past_due", failed_at), failed_at
            )
            now = failed_at + draw(st.integers(60, 2 * DAY))
            if draw(st.booleans()):  # the card is updated and the retry succeeds
                paid_invoice(k, now)
                month.add("customer.subscription.updated", subscription("active", now), now)
            else:  # Stripe gives up and cancels
                month.add(
                    "customer.subscription.deleted",
                    subscription(
                        "canceled", now, canceled_at=se.BASE_TIME + now, ended_at=se.BASE_TIME + now
                    ),
                    now,
                )
                return
        else:
            paid_invoice(k, now)
    ending = draw(st.sampled_from(["keeps giving", "keeps giving", "cancels"]))
    if ending == "cancels":
        asked = now + draw(st.integers(60, DAY))
        month.add(
            "customer.subscription.updated",
            subscription(
                "active", asked, cancel_at_period_end=True, canceled_at=se.BASE_TIME + asked
            ),
            asked,
        )
        ended = asked + draw(st.integers(60, 2 * DAY))
        month.add(
            "customer.subscription.deleted",
            subscription(
                "canceled",
                ended,
                cancel_at_period_end=True,
                canceled_at=se.BASE_TIME + asked,
                ended_at=se.BASE_TIME + ended,
            ),
            ended,
        )


@st.composite
def email_changes(draw: st.DrawFn, month: Month) -> None:
    """Some customers change their email in Stripe: ``customer.updated``, and every later
    event about that customer carries the new address; the reader may then give once, as
    a guest, from the new address. Guest gifts from the old address come before the change
    (the ledger has no record of which address a later one belonged to: see
    ``ledger.supporters``)."""
    customers = {
        obj["customer"]: obj
        for evt in month.events
        if isinstance((obj := evt["data"]["object"]).get("customer"), str)
    }
    for customer in sorted(customers):
        if not draw(st.booleans()):
            continue
        index = int(customer.removeprefix("cus_"))
        new_email = f"Reader{index}.New@Example.org"
        guest_gifts = [
            evt["created"] - se.BASE_TIME
            for evt in month.events
            if (evt["data"]["object"].get("customer_details") or {}).get("email") == EMAILS[index]
            and evt["data"]["object"].get("customer") is None
        ]
        at = max([draw(st.integers(DAY, 20 * DAY)), *(t + 60 for t in guest_gifts)])
        month.add("customer.updated", se.customer(customer_id=customer, email=new_email), at)
        for evt in month.events:
            obj = evt["data"]["object"]
            if obj.get("customer") != customer or evt["created"] <= se.BASE_TIME + at:
                continue
            if "customer_email" in obj:
                obj["customer_email"] = new_email
            if isinstance(obj.get("customer_details"), dict):
                obj["customer_details"]["email"] = new_email
        if draw(st.booleans()):
            gift_at = at + draw(st.integers(60, 5 * DAY))
            n = 1000 + index
            month.add(
                "checkout.session.completed",
                se.checkout_session(
                    mode="payment",
                    amount=draw(st.integers(200, 5_000)),
                    currency="eur",
                    frequency="once",
                    email=new_email.lower(),
                    payment_intent=f"pi_guest{n}",
                    session_id=f"cs_test_guest{n}",
                ),
                gift_at,
            )


@st.composite
def a_month(draw: st.DrawFn) -> Month:
    month = Month()
    kinds = draw(st.lists(st.sampled_from(["once", "recurring"]), min_size=1, max_size=8))
    for n, kind in enumerate(kinds):
        if kind == "once":
            draw(one_time_gift(n, month))
        else:
            draw(recurring_supporter(n, month))
    draw(email_changes(month))
    return month


def reset_ledger() -> None:
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


def deliver(app: Flask, month: Month, events: list[dict[str, Any]]) -> dict[str, Any]:
    reset_ledger()
    for attempt in month.attempts:
        db.session.add(CheckoutAttempt(**attempt))
    db.session.commit()
    client = app.test_client()
    for evt in events:
        response = se.deliver(client, evt)
        assert response.status_code == 200, response.get_data(as_text=True)
    return ledger_snapshot()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


ROLLUPS = (MonthlyRevenue, MonthlySource, RecurringFlow)


def _rollup_rows(model: Any) -> list[tuple[Any, ...]]:
    """A rollup's rows, leaving out those that add up to nothing: a row whose sums went
    back to zero (a payment that moved from one month or frequency to another) counts as
    no row at all on every page, and is kept rather than deleted under concurrent writers."""
    keys = len(model.__table__.primary_key.columns)
    rows = db.session.execute(select(*model.__table__.columns)).all()
    return sorted(tuple(row) for row in rows if any(row[keys:]))


def ledger_snapshot() -> dict[str, Any]:
    """Everything the ledger knows, by natural keys (row ids and arrival times left out)."""
    db.session.rollback()  # a fresh read: see what the app committed
    emails = {s.id: s.email for s in db.session.scalars(select(Supporter))}
    subs = {r.id: r.stripe_subscription_id for r in db.session.scalars(select(RecurringSupport))}
    return {
        "supporters": sorted(
            (s.email, s.stripe_customer_id) for s in db.session.scalars(select(Supporter))
        ),
        "recurring": sorted(
            (
                r.stripe_subscription_id,
                r.stripe_customer_id,
                emails.get(r.supporter_id),
                r.frequency,
                r.amount_minor,
                r.currency,
                r.status,
                r.cancel_at_period_end,
                _iso(r.started_at),
                _iso(r.canceled_at),
                _iso(r.ended_at),
                _iso(r.status_as_of),
                r.checkout_attempt_id,
                r.source,
                r.utm_campaign,
            )
            for r in db.session.scalars(select(RecurringSupport))
        ),
        "payments": sorted(
            (
                p.stripe_invoice_id or "",
                p.stripe_payment_intent_id or "",
                p.stripe_subscription_id,
                p.stripe_customer_id,
                emails.get(p.supporter_id),
                subs.get(p.recurring_support_id),
                p.frequency,
                p.amount_minor,
                p.amount_refunded_minor,
                p.amount_disputed_minor,
                p.currency,
                p.status,
                p.dispute_status,
                p.net_minor,
                _iso(p.paid_at),
                p.checkout_attempt_id,
                p.source,
                p.utm_campaign,
            )
            for p in db.session.scalars(select(Payment))
        ),
        "failures": sorted(
            (
                f.stripe_invoice_id,
                f.attempt_count,
                f.stripe_subscription_id,
                emails.get(f.supporter_id),
                subs.get(f.recurring_support_id),
                f.amount_minor,
                f.currency,
                _iso(f.failed_at),
            )
            for f in db.session.scalars(select(PaymentFailure))
        ),
        "attempts": sorted(
            (a.id, a.status, emails.get(a.supporter_id))
            for a in db.session.scalars(select(CheckoutAttempt))
        ),
        "adjustments": sorted(
            (
                c.stripe_payment_intent_id,
                c.stripe_charge_id,
                c.amount_refunded_minor,
                c.dispute_status,
                c.amount_disputed_minor,
            )
            for c in db.session.scalars(select(ChargeAdjustment))
        ),
        "invoice_links": sorted(
            (i.stripe_invoice_id, i.stripe_payment_intent_id)
            for i in db.session.scalars(select(InvoicePaymentIntent))
        ),
        "events": sorted(
            (e.id, e.status, e.last_error) for e in db.session.scalars(select(StripeEvent))
        ),
        # What staff download and read: every column of both exports, and the rollups
        # behind the dashboard (MRR, ARR, new and cancelled supporters, sources, cohorts).
        "export payments": list(export.payment_rows()),
        "export supporters": list(export.supporter_rows()),
        **{model.__tablename__: _rollup_rows(model) for model in ROLLUPS},
    }


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(month=a_month(), seed=st.integers(0, 2**32 - 1))
def test_shuffled_duplicated_delivery_gives_the_same_ledger(
    app: Flask, app_ctx: None, month: Month, seed: int
) -> None:
    in_order = sorted(month.events, key=lambda e: e["created"])  # stable: ties keep story order
    expected = deliver(app, month, in_order)

    rng = random.Random(seed)
    shuffled = list(month.events)
    shuffled += rng.sample(month.events, k=max(1, len(month.events) // 5))  # 20% duplicates
    rng.shuffle(shuffled)
    actual = deliver(app, month, shuffled)

    assert actual == expected
    # and the ledger is not trivially empty: every story left money, a failure, or (a trial
    # cancelled unpaid) a recurring support behind
    assert expected["payments"] or expected["failures"] or expected["recurring"]
    assert all(status == "processed" for _, status, _ in expected["events"])
