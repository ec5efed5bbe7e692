"""Example activity for a new install: supporters, gifts, renewals, refunds, disputes,
failed payments, cancellations, checkout attempts and reminders over the last 24 months.

Everything goes through the ledger functions the Stripe webhook handlers call
(``membership.ledger``), one supporter per transaction, so the report rollups are kept
up to date exactly as in production. Emails are ``@example.org`` and every Stripe id
starts with ``demo_``-style prefixes that Stripe never issues. Deterministic for a
given ``seed``.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from membership import clock
from membership.extensions import db
from membership.ledger import attempts, payments, recurring, supporters
from membership.ledger.recurring import SubscriptionState
from membership.models import CheckoutAttempt, new_public_id
from membership.reminders.models import Reminder
from membership.sql.rows import Row

MONTHS_OF_HISTORY = 24
CURRENCIES = (("USD", 0.7), ("EUR", 0.2), ("GBP", 0.1))
KINDS = (("once", 0.6), ("monthly", 0.3), ("annual", 0.1))
AMOUNTS = {
    "once": (1000, 2500, 5000, 10000),
    "monthly": (200, 500, 1000),
    "annual": (2500, 5000, 10000),
}
ARTICLES = [f"https://news.example/investigations/story-{n}" for n in range(1, 41)]
CAMPAIGNS = ("", "", "newsletter", "year-end", "press-freedom-day", "podcast")
UTM_SOURCES = ("", "newsletter", "mastodon", "telegram", "partner-site")
MONTHLY_CHURN = 0.04
REFUND_RATE = 0.02
DISPUTE_RATE = 0.005
FAILURE_RATE = 0.03
UNCONVERTED_ATTEMPTS = 2  # checkouts opened and abandoned per converted one, on average
REMINDER_RATE = 0.15


class SeedRefused(RuntimeError):
    """The seed would not make sense (say, fewer payments than supporters)."""


@dataclass
class SeedSummary:
    supporters: int = 0
    payments: int = 0
    recurring: int = 0
    attempts: int = 0
    reminders: int = 0


def seed(supporter_count: int, payment_count: int, *, seed_value: int = 1) -> SeedSummary:
    """Add ``supporter_count`` supporters with ``payment_count`` payments in all."""
    if supporter_count < 1 or payment_count < supporter_count:
        raise SeedRefused("give at least one supporter and at least one payment per supporter")
    rng = random.Random(seed_value)  # noqa: S311  (demo data, not secrets)
    run = secrets.token_hex(4)  # several seeds can share a database
    now = clock.now()
    summary = SeedSummary()
    extra = payment_count - supporter_count  # payments beyond each supporter's first
    for i in range(supporter_count):
        remaining = supporter_count - i - 1
        fair_share = extra // (remaining + 1) if remaining else extra
        budget = 1 + min(extra, rng.randint(0, 2 * fair_share) if remaining else extra)
        # The last supporter gives once, as often as it takes to reach exactly M payments.
        made = _supporter(rng, f"{run}{i}", now, budget, summary, last=not remaining)
        extra -= made - 1
        db.session.commit()
    return summary


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _supporter(
    rng: random.Random, key: str, now: datetime, budget: int, summary: SeedSummary, last: bool
) -> int:
    """One supporter's history; returns how many payments it made (1 to ``budget``)."""
    currency = _pick(rng, CURRENCIES)
    kind = "once" if last else _pick(rng, KINDS)
    amount = rng.choice(AMOUNTS[kind])
    start = now - timedelta(seconds=rng.randint(3600, MONTHS_OF_HISTORY * 30 * 86400))
    attempt = _attempts(rng, key, kind, amount, currency, start, summary)
    email = f"reader{key}@example.org"
    supporter_id = supporters.find_or_create_supporter(
        customer_id=f"cus_demo{key}",
        email=email,
    )
    assert supporter_id is not None
    attempts.advance_attempt(attempt, "paid", supporter_id)
    summary.supporters += 1
    if rng.random() < REMINDER_RATE:
        _reminder(rng, email, attempt, start, now, summary)
    if kind == "once":
        made = _one_time_gifts(rng, key, supporter_id, attempt, start, now, budget)
    else:
        made = _recurring(rng, key, supporter_id, attempt, kind, start, now, budget)
        summary.recurring += 1
    summary.payments += made
    return made


def _attempts(
    rng: random.Random,
    key: str,
    kind: str,
    amount: int,
    currency: str,
    start: datetime,
    summary: SeedSummary,
) -> Row:
    """The checkout that converted, and a few abandoned ones from the same page (stored as
    the support form stores them, then read back as the ledger reads them)."""
    source = rng.choice(ARTICLES)
    attribution = {
        "source": source,
        "utm_source": rng.choice(UTM_SOURCES) or None,
        "utm_medium": None,
        "utm_campaign": rng.choice(CAMPAIGNS) or None,
    }
    opened = []
    for n in range(rng.randint(0, 2 * UNCONVERTED_ATTEMPTS) + 1):
        attempt = CheckoutAttempt(
            id=new_public_id(),
            frequency=kind,
            amount_minor=amount,
            currency=currency,
            stripe_session_id=f"cs_demo{key}_{n}",
            status="open",
            created_at=start - timedelta(minutes=5 * n),
            **attribution,
        )
        db.session.add(attempt)
        opened.append(attempt)
        summary.attempts += 1
    db.session.flush()
    found = [attempts.find_attempt(attempt.id) for attempt in opened]
    for abandoned in found[1:]:
        assert abandoned is not None
        attempts.advance_attempt(abandoned, "expired")
    assert found[0] is not None
    return found[0]


def _one_time_gifts(
    rng: random.Random,
    key: str,
    supporter_id: int,
    attempt: Row,
    start: datetime,
    now: datetime,
    budget: int,
) -> int:
    gifts = budget  # regulars give again and again, spread between their first gift and now
    span = (now - start).total_seconds()
    moments = [start] + sorted(
        start + timedelta(seconds=rng.uniform(0, span)) for _ in range(gifts - 1)
    )
    for n, moment in enumerate(moments):
        intent = f"pi_demo{key}_{n}"
        payments.record_payment(
            payments.PaymentFacts(
                amount_minor=attempt["amount_minor"],
                currency=attempt["currency"],
                paid_at=moment,
                customer_id=f"cus_demo{key}",
                payment_intent_id=intent,
                frequency="once",
            ),
            supporter_id=supporter_id,
            attempt=attempt,
        )
        _maybe_refund_or_dispute(rng, intent, attempt["amount_minor"], moment, now)
    return gifts


def _recurring(
    rng: random.Random,
    key: str,
    supporter_id: int,
    attempt: Row,
    kind: str,
    start: datetime,
    now: datetime,
    budget: int,
) -> int:
    """A subscription: paid each period until it is cancelled, runs out of budget, or now."""
    subscription_id = f"sub_demo{key}"
    support = recurring.get_or_create_recurring(subscription_id, customer_id=f"cus_demo{key}")
    recurring.link_recurring(support, supporter_id=supporter_id, attempt=attempt)
    amount, currency = attempt["amount_minor"], attempt["currency"]
    active = SubscriptionState(
        status="active",
        as_of=start,
        amount_minor=amount,
        currency=currency,
        frequency=kind,
        started_at=start,
    )
    recurring.apply_state(support, active)
    recurring.save_recurring(support)
    step = timedelta(days=30 if kind == "monthly" else 365)
    moment, made = start, 0
    while moment <= now and made < budget:
        if made and rng.random() < FAILURE_RATE:
            payments.record_failure(
                invoice_id=f"in_demo{key}_{made}",
                attempt_count=1,
                subscription_id=subscription_id,
                customer_id=f"cus_demo{key}",
                recurring=support,
                supporter_id=supporter_id,
                amount_minor=amount,
                currency=currency,
                failed_at=moment,
            )
            recurring.mark_past_due(support, moment)
            recurring.save_recurring(support)
            if moment + step > now:
                return made  # still past due today: the at-risk report lists it
        intent = f"pi_demo{key}_{made}"
        payments.record_payment(
            payments.PaymentFacts(
                amount_minor=amount,
                currency=currency,
                paid_at=moment + timedelta(hours=1),
                customer_id=f"cus_demo{key}",
                payment_intent_id=intent,
                invoice_id=f"in_demo{key}_{made}",
                subscription_id=subscription_id,
                frequency=kind,
            ),
            supporter_id=supporter_id,
            attempt=attempt,
            recurring=support,
        )
        if support["status"] == "past_due":
            recurring.apply_state(
                support,
                replace(active, as_of=moment + timedelta(hours=1)),
            )
            recurring.save_recurring(support)
        _maybe_refund_or_dispute(rng, intent, amount, moment, now)
        made += 1
        moment += step
        churn = MONTHLY_CHURN if kind == "monthly" else MONTHLY_CHURN * 6
        if rng.random() < churn or (made >= budget and moment <= now):
            end = min(moment - timedelta(days=rng.randint(1, 20)), now)
            recurring.apply_state(
                support,
                replace(active, status="canceled", as_of=end, canceled_at=end, ended_at=end),
            )
            recurring.save_recurring(support)
            break
    return made


def _maybe_refund_or_dispute(
    rng: random.Random, intent: str, amount: int, paid_at: datetime, now: datetime
) -> None:
    roll = rng.random()
    later = min(paid_at + timedelta(days=rng.randint(1, 20)), now)
    if roll < REFUND_RATE:
        refunded = amount if rng.random() < 0.7 else amount // 2
        payments.record_refunds(intent, f"ch_demo_{intent}", refunded)
    elif roll < REFUND_RATE + DISPUTE_RATE:
        status = rng.choice(("needs_response", "under_review", "lost", "won"))
        payments.record_dispute(intent, f"ch_demo_{intent}", status, amount, later)


def _reminder(
    rng: random.Random,
    email: str,
    attempt: Row,
    start: datetime,
    now: datetime,
    summary: SeedSummary,
) -> None:
    """A "remind me later" the reader asked for before giving."""
    asked = start - timedelta(days=rng.randint(1, 30))
    due = asked + timedelta(days=7)
    status = rng.choice(("sent", "converted", "converted", "cancelled"))
    db.session.add(
        Reminder(
            token=secrets.token_urlsafe(32),
            email=email,
            due_at=due,
            frequency=attempt["frequency"],
            amount_minor=attempt["amount_minor"],
            currency=attempt["currency"],
            source=attempt["source"],
            status=status,
            attempts=1 if status != "cancelled" else 0,
            sent_at=due if status != "cancelled" else None,
            converted_at=start if status == "converted" else None,
            cancelled_at=due if status == "cancelled" else None,
            created_at=asked,
            updated_at=now,
        )
    )
    summary.reminders += 1
