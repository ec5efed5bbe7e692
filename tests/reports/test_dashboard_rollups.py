"""The dashboard's figures read from rollups are the ones the ledger's rows give.

The dashboard reads the same days of the month before from the daily revenue rollup (and
at most half a day of payments), failures and reminders from their monthly rollups. Each
figure here is set against the same figure counted straight from the rows, as the
dashboard counted it before those rollups existed: for any payments, at any instant of
the month (its first and last, midnights, noons, in any time zone), for this month and
for twelve months.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from membership import clock
from membership.config import Settings
from membership.extensions import db
from membership.models import Payment, PaymentFailure
from membership.reminders import sender
from membership.reminders.models import Reminder
from membership.reports import rollups
from membership.reports.dashboard import Dashboard, Revenue, dashboard, to_date
from membership.reports.periods import Period
from membership.vocabulary import DISPUTE_HOLDS_MONEY
from tests.reminders.conftest import (  # noqa: F401 (smtp: a fixture)
    SmtpSink,
    due_moment,
    make_reminder,
    smtp,
    with_smtp,
)
from tests.reports.test_figures import deliver_all, once
from tests.reports.test_rollups import rebuilt_snapshot, rollup_snapshot

MARCH = Period("2026-03", "2026-03")
YEAR = Period("2025-04", "2026-03")
SPAN_START = datetime(2024, 4, 1, tzinfo=UTC)  # the year before YEAR: the comparison's
SPAN_END = datetime(2026, 4, 1, tzinfo=UTC)
EDGES = [
    datetime(2026, 2, 1, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 1, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 2, 5, 12, tzinfo=UTC),
    datetime(2026, 2, 5, 11, 59, 59, tzinfo=UTC),
    datetime(2026, 2, 6, tzinfo=UTC),
    datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2025, 4, 1, tzinfo=UTC),
    datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC),
]


def revenue_of(payments: list[Payment], start: datetime, end: datetime) -> dict[str, Revenue]:
    """Revenue per currency of the payments paid in [start, end), by the payments' rule
    (``Payment.net_minor``): the figures as the dashboard summed them from the ledger."""
    found: dict[str, Revenue] = {}
    for p in payments:
        if not start <= p.paid_at < end:
            continue
        revenue = found.setdefault(p.currency.upper(), Revenue())
        held = p.amount_disputed_minor if p.status in DISPUTE_HOLDS_MONEY else 0
        revenue.payments += 1
        revenue.gross_minor += p.amount_minor
        revenue.refunded_minor += p.amount_refunded_minor
        revenue.disputed_minor += held
        frequency = p.frequency if p.frequency in revenue.net_by_frequency else "once"
        revenue.net_by_frequency[frequency] += p.amount_minor - p.amount_refunded_minor - held
        revenue.gross_by_frequency[frequency] += p.amount_minor
    return found


def counted_from_the_rows(period: Period) -> tuple[tuple[int, int, int], dict[str, tuple]]:
    """Reminders asked for, sent and converted, and failures per currency, in ``period``,
    counted from the rows one by one."""
    start, end = period.starts_at, period.ends_before
    reminders = db.session.scalars(select(Reminder)).all()
    asked, sent, converted = (
        sum(1 for r in reminders if (t := getattr(r, time)) is not None and start <= t < end)
        for time in ("created_at", "sent_at", "converted_at")
    )
    failures: dict[str, tuple[int, int]] = {}
    for f in db.session.scalars(select(PaymentFailure)):
        if start <= f.failed_at < end:
            count, amount = failures.get(f.currency.upper(), (0, 0))
            failures[f.currency.upper()] = (count + 1, amount + f.amount_minor)
    return (asked, sent, converted), failures


def assert_the_rows_figures(board: Dashboard) -> None:
    """Reminders and failures of the period and the one before, as the rows give them."""
    for period, reminders, failures_of in (
        (board.period, board.reminders, lambda c: c.failures),
        (board.previous, board.previous_reminders, lambda c: c.previous_failures),
    ):
        expected_reminders, expected_failures = counted_from_the_rows(period)
        assert (reminders.scheduled, reminders.sent, reminders.converted) == expected_reminders
        # Per currency the page shows (those with revenue or recurring support).
        found = {
            c.currency: (failures_of(c).count, failures_of(c).amount_minor)
            for c in board.currencies
        }
        assert found == {c: expected_failures.get(c, (0, 0)) for c in found}


def assert_same_time_as_the_payments(board: Dashboard, now: datetime) -> None:
    running = to_date(board.period, now)
    assert running is not None and board.to_date == running
    payments = list(db.session.scalars(select(Payment)))
    expected = revenue_of(payments, board.previous.starts_at, running.previous_until)
    found = {
        c.currency: c.previous_same_time
        for c in board.currencies
        if c.previous_same_time is not None and c.previous_same_time.payments
    }
    assert found == expected


# -- Generated ledgers --------------------------------------------------------------------------

moments = st.one_of(
    st.sampled_from(EDGES),
    st.datetimes(
        min_value=SPAN_START.replace(tzinfo=None), max_value=SPAN_END.replace(tzinfo=None)
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
)
statuses = st.sampled_from(
    ["succeeded", "partially_refunded", "refunded", "disputed", "dispute_lost"]
)


@st.composite
def a_payment(draw: st.DrawFn) -> dict[str, Any]:
    amount = draw(st.integers(100, 50_000))
    return {
        "paid_at": draw(moments),
        "currency": draw(st.sampled_from(["usd", "EUR", "gbp"])),
        "frequency": draw(st.sampled_from(["once", "monthly", "annual", None])),
        "amount_minor": amount,
        "amount_refunded_minor": draw(st.integers(0, amount)),
        "amount_disputed_minor": draw(st.integers(0, amount)),
        "status": draw(statuses),
    }


@st.composite
def a_reminder(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(moments)
    later = st.one_of(st.none(), st.timedeltas(timedelta(0), timedelta(days=60)))
    sent, converted = draw(later), draw(later)
    return {
        "created_at": created,
        "sent_at": created + sent if sent is not None else None,
        "converted_at": created + converted if converted is not None else None,
    }


@st.composite
def a_failure(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "failed_at": draw(moments),
        "currency": draw(st.sampled_from(["USD", "eur"])),
        "amount_minor": draw(st.integers(100, 5_000)),
    }


# "now": the edges of March (the 31st: February is shorter), its days' midnights and noons,
# any instant, and the same instants written in other time zones.
instants = st.one_of(
    st.sampled_from(
        [
            datetime(2026, 3, 1, tzinfo=UTC),
            datetime(2026, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
            datetime(2026, 3, 5, 12, tzinfo=UTC),
            datetime(2026, 3, 6, tzinfo=UTC),
            datetime(2026, 3, 28, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 3, 29, tzinfo=UTC),
            datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ]
    ),
    st.datetimes(
        min_value=datetime(2026, 3, 1), max_value=datetime(2026, 3, 31, 23, 59, 59, 999999)
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
).flatmap(
    lambda moment: st.sampled_from([0, 2, -5, 14]).map(
        lambda hours: moment.astimezone(timezone(timedelta(hours=hours)))
    )
)


def reset() -> None:
    db.session.rollback()
    for model in (Payment, Reminder, PaymentFailure, *rollups.ROLLUP_MODELS):
        db.session.execute(delete(model))
    db.session.commit()


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payments=st.lists(a_payment(), max_size=25),
    reminders=st.lists(a_reminder(), max_size=10),
    failures=st.lists(a_failure(), max_size=8),
    now=instants,
)
def test_the_dashboard_gives_the_figures_the_rows_give(
    app_ctx: None,
    payments: list[dict[str, Any]],
    reminders: list[dict[str, Any]],
    failures: list[dict[str, Any]],
    now: datetime,
) -> None:
    reset()
    for n, values in enumerate(payments):
        db.session.add(Payment(stripe_payment_intent_id=f"pi_{n}", **values))
    for n, values in enumerate(reminders):
        db.session.add(Reminder(token=f"token-{n:020d}", due_at=values["created_at"], **values))
    for n, values in enumerate(failures):
        db.session.add(PaymentFailure(stripe_invoice_id=f"in_{n}", **values))
    db.session.commit()

    for period in (MARCH, YEAR):
        board = dashboard(period, now=now)
        assert_same_time_as_the_payments(board, now)
        assert_the_rows_figures(board)
    assert rollup_snapshot() == rebuilt_snapshot()


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 5, 11, 59, 59, tzinfo=UTC),  # the hours before: from the payments
        datetime(2026, 3, 5, 12, 0, 1, tzinfo=UTC),  # the hours after: taken from the day
        datetime(2026, 3, 29, 0, 0, tzinfo=UTC),  # 28 days: all of February
        datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),  # 28 Feb 23:00 UTC
    ],
    ids=["first-instant", "before-noon", "after-noon", "february-whole", "last-instant", "utc+2"],
)
def test_the_same_days_of_february_to_the_microsecond(
    client: FlaskClient, app_ctx: None, now: datetime
) -> None:
    """Payments a moment either side of each comparison's edge, delivered as webhooks."""
    deliver_all(
        client,
        once(1, 100, "2026-02-01T00:00:00"),
        once(2, 200, "2026-02-05T11:59:58"),
        once(3, 400, "2026-02-05T11:59:59"),  # at the edge: not before it
        once(4, 800, "2026-02-05T12:00:00"),
        once(5, 1600, "2026-02-05T12:00:01"),
        once(6, 3200, "2026-02-28T22:59:59"),
        once(7, 6400, "2026-02-28T23:59:59"),
        once(8, 12800, "2026-03-01T00:00:00", currency="eur"),
        once(9, 25600, "2026-01-31T23:59:59"),
    )
    month = rollups.month_of(now)
    board = dashboard(Period(month, month), now=now)
    assert_same_time_as_the_payments(board, now)
    assert rollup_snapshot() == rebuilt_snapshot()


@pytest.fixture
def mail_settings(app: Flask, smtp: SmtpSink) -> Settings:  # noqa: F811
    return with_smtp(app.extensions["membership.settings"], smtp.url)


def test_reminders_asked_for_sent_and_converted_are_counted_once_each(
    client: FlaskClient,
    app_ctx: None,
    mail_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the reminders' own statements: sign-ups (one asked twice), a gift that
    converts one, the sender for the other; then a month later, asked again."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 3, 12, tzinfo=UTC))
    first = make_reminder("first@example.org")
    make_reminder("first@example.org")  # asked again while active: nothing changes
    second = make_reminder("second@example.org")
    deliver_all(client, once(1, 2500, "2026-11-03T10:00:00", email="second@example.org"))
    assert sender.send_due_reminders(mail_settings, now=due_moment(first)).sent == 1
    assert (
        sender.send_due_reminders(mail_settings, now=due_moment(first, timedelta(days=1))).sent == 0
    )
    make_reminder("first@example.org", now=datetime(2026, 12, 1, tzinfo=UTC))

    board = dashboard(Period("2026-11", "2026-11"), now=datetime(2026, 12, 2, tzinfo=UTC))
    assert_the_rows_figures(board)
    assert (board.reminders.scheduled, board.reminders.sent, board.reminders.converted) == (
        2,
        1,
        1,
    )
    december = dashboard(Period("2026-12", "2026-12"), now=datetime(2026, 12, 2, tzinfo=UTC))
    assert december.reminders.scheduled == 1
    converted = db.session.get(Reminder, second.id)
    assert converted is not None and converted.status == "converted"
    assert rollup_snapshot() == rebuilt_snapshot()
