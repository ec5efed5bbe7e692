"""Example supporters' stories, as plain facts: who gave what, when, and what happened next.

One generator (``histories``) decides everything at random (deterministic for a seed);
two writers record the same stories: ``membership.demo.seed`` through the ledger, one
fact at a time, as Stripe's webhooks would, and ``membership.demo.bulk`` as the rows the
ledger would have written, in bulk, for datasets of millions
(``tests/reports/test_bulk_demo.py`` holds the two equal on a sample).

Emails are ``@example.org`` and every Stripe id has a ``demo`` infix Stripe never issues.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
DISPUTE_STATUSES = ("needs_response", "under_review", "lost", "won")
REMINDER_STATUSES = ("sent", "converted", "converted", "cancelled")
BLOCK = 20_000  # stories per block (see ``block_histories``)


class SeedRefused(RuntimeError):
    """The seed would not make sense (say, fewer payments than supporters)."""


@dataclass(slots=True)  # not frozen: millions are made, and frozen ones cost more
class Attempt:
    """A press of Continue: the first of a history's is the one that was paid."""

    id: str
    session_id: str
    created_at: datetime


@dataclass(slots=True)
class Adjustment:
    """A refund (``refunded_minor``) or a dispute (``dispute_status``) of one payment."""

    charge_id: str
    refunded_minor: int = 0
    dispute_status: str | None = None
    disputed_minor: int = 0
    as_of: datetime | None = None


@dataclass(slots=True)
class Gift:
    """Money received: a one-time gift, or one invoice of a subscription (``invoice_id``)."""

    payment_intent_id: str
    paid_at: datetime
    invoice_id: str | None = None
    adjustment: Adjustment | None = None


@dataclass(slots=True)
class Failure:
    """A renewal that failed; ``stays_past_due`` when nothing was paid after it."""

    invoice_id: str
    failed_at: datetime
    stays_past_due: bool


@dataclass(slots=True)
class Reminder:
    asked_at: datetime
    due_at: datetime
    status: str


@dataclass(slots=True)
class History:
    """One supporter's story. ``events`` are the recurring gift's invoices in the order
    they happened, each a ``Gift`` or a ``Failure``; a one-time giver's are all gifts."""

    key: str
    kind: str
    amount_minor: int
    currency: str
    start: datetime
    attribution: dict[str, str | None]
    attempts: list[Attempt]
    reminder: Reminder | None
    events: list[Gift | Failure] = field(default_factory=list)
    canceled_at: datetime | None = None

    @property
    def email(self) -> str:
        return f"reader{self.key}@example.org"

    @property
    def customer_id(self) -> str:
        return f"cus_demo{self.key}"

    @property
    def subscription_id(self) -> str:
        return f"sub_demo{self.key}"

    @property
    def payments(self) -> int:
        return sum(1 for event in self.events if isinstance(event, Gift))


def histories(
    supporter_count: int, payment_count: int, *, seed_value: int, run: str, now: datetime
) -> Iterator[History]:
    """``supporter_count`` stories with ``payment_count`` payments in all, over the 24
    months before ``now``; ``run`` prefixes every key (several seeds can share a database)."""
    if supporter_count < 1 or payment_count < supporter_count:
        raise SeedRefused("give at least one supporter and at least one payment per supporter")
    for block in range(block_count(supporter_count)):
        yield from block_histories(
            block, supporter_count, payment_count, seed_value=seed_value, run=run, now=now
        )


def block_count(supporter_count: int) -> int:
    """How many blocks of ``BLOCK`` stories (the last one maybe smaller) make the whole."""
    return -(-supporter_count // BLOCK)


def block_bounds(block: int, supporter_count: int) -> tuple[int, int]:
    """The numbers of a block's first story and of the one after its last."""
    first = block * BLOCK
    return first, min(first + BLOCK, supporter_count)


def block_histories(
    block: int,
    supporter_count: int,
    payment_count: int,
    *,
    seed_value: int,
    run: str,
    now: datetime,
) -> list[History]:
    """The stories of one block: its own random stream and its exact share of the payments,
    so that any block can be made without making the ones before it (the bulk path makes
    them in parallel)."""
    first, end = block_bounds(block, supporter_count)
    share = payment_count * end // supporter_count - payment_count * first // supporter_count
    rng = random.Random(f"{seed_value}/{block}")  # noqa: S311  (demo data, not secrets)
    extra = share - (end - first)  # payments beyond each supporter's first
    stories = []
    for i in range(first, end):
        remaining = end - i - 1
        fair_share = extra // (remaining + 1) if remaining else extra
        budget = 1 + min(extra, rng.randint(0, 2 * fair_share) if remaining else extra)
        # The block's last supporter gives once, as often as it takes to reach its share.
        history = _history(rng, f"{run}{i}", now, budget, last=not remaining)
        extra -= history.payments - 1
        stories.append(history)
    return stories


def _weights(weighted: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    values, cumulative, total = [], [], 0.0
    for value, weight in weighted:
        total += weight
        values.append(value)
        cumulative.append(total)
    return values, cumulative


_CURRENCY_WEIGHTS = _weights(CURRENCIES)
_KIND_WEIGHTS = _weights(KINDS)


def _pick(rng: random.Random, weights: tuple[list[str], list[float]]) -> str:
    values, cumulative = weights
    return rng.choices(values, cum_weights=cumulative)[0]


def _history(rng: random.Random, key: str, now: datetime, budget: int, last: bool) -> History:
    currency = _pick(rng, _CURRENCY_WEIGHTS)
    kind = "once" if last else _pick(rng, _KIND_WEIGHTS)
    amount = rng.choice(AMOUNTS[kind])
    start = now - timedelta(seconds=rng.randint(3600, MONTHS_OF_HISTORY * 30 * 86400))
    attribution = {
        "source": rng.choice(ARTICLES),
        "utm_source": rng.choice(UTM_SOURCES) or None,
        "utm_medium": None,
        "utm_campaign": rng.choice(CAMPAIGNS) or None,
    }
    attempts = [
        Attempt(
            id=f"{rng.getrandbits(128):032x}",
            session_id=f"cs_demo{key}_{n}",
            created_at=start - timedelta(minutes=5 * n),
        )
        for n in range(rng.randint(0, 2 * UNCONVERTED_ATTEMPTS) + 1)
    ]
    reminder = None
    if rng.random() < REMINDER_RATE:
        asked = start - timedelta(days=rng.randint(1, 30))
        reminder = Reminder(asked, asked + timedelta(days=7), rng.choice(REMINDER_STATUSES))
    history = History(key, kind, amount, currency, start, attribution, attempts, reminder)
    if kind == "once":
        _one_time_gifts(rng, history, now, budget)
    else:
        _recurring(rng, history, now, budget)
    return history


def _one_time_gifts(rng: random.Random, history: History, now: datetime, budget: int) -> None:
    """Regulars give again and again, spread between their first gift and now."""
    start = history.start
    span = (now - start).total_seconds()
    moments = [start] + sorted(
        start + timedelta(seconds=rng.uniform(0, span)) for _ in range(budget - 1)
    )
    for n, moment in enumerate(moments):
        intent = f"pi_demo{history.key}_{n}"
        history.events.append(
            Gift(intent, moment, adjustment=_adjustment(rng, intent, history, moment, now))
        )


def _recurring(rng: random.Random, history: History, now: datetime, budget: int) -> None:
    """Paid each period until it is cancelled, runs out of budget, or now; a renewal may
    fail first (past due until the next one is paid, or still today)."""
    step = timedelta(days=30 if history.kind == "monthly" else 365)
    churn = MONTHLY_CHURN if history.kind == "monthly" else MONTHLY_CHURN * 6
    moment, made = history.start, 0
    while moment <= now and made < budget:
        if made and rng.random() < FAILURE_RATE:
            stays = moment + step > now
            history.events.append(Failure(f"in_demo{history.key}_{made}", moment, stays))
            if stays:
                return  # still past due today: the at-risk report lists it
        intent = f"pi_demo{history.key}_{made}"
        paid_at = moment + timedelta(hours=1)
        adjustment = _adjustment(rng, intent, history, moment, now)
        history.events.append(Gift(intent, paid_at, f"in_demo{history.key}_{made}", adjustment))
        made += 1
        moment += step
        if rng.random() < churn or (made >= budget and moment <= now):
            # After the last payment, never after now.
            end = max(min(moment - timedelta(days=rng.randint(1, 20)), now), paid_at)
            history.canceled_at = end
            return


def _adjustment(
    rng: random.Random, intent: str, history: History, paid_at: datetime, now: datetime
) -> Adjustment | None:
    roll = rng.random()
    if roll < REFUND_RATE:
        refunded = history.amount_minor if rng.random() < 0.7 else history.amount_minor // 2
        return Adjustment(f"ch_demo_{intent}", refunded_minor=refunded)
    if roll < REFUND_RATE + DISPUTE_RATE:
        later = min(paid_at + timedelta(days=rng.randint(1, 20)), now)
        status = rng.choice(DISPUTE_STATUSES)
        return Adjustment(
            f"ch_demo_{intent}",
            dispute_status=status,
            disputed_minor=history.amount_minor,
            as_of=later,
        )
    return None
