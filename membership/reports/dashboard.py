"""The staff dashboard's figures: revenue, recurring support, failures and reminders.

Every money figure is per currency (never summed across currencies) and comes from the
rollups (``membership.reports.models``): a few hundred rows, whatever the ledger's size.

MRR is the monthly amounts of active recurring supports plus their annual amounts
divided by 12; the annual amounts are added up first and the total is rounded down to
the minor unit once (so 3 annual gifts of $100.00 give $25.00 of MRR, not 3 x $8.33).
ARR is 12 x the monthly amounts plus the annual amounts, exact. "Active" means not
ended: ``past_due`` supports still count (Stripe is retrying; see the at-risk report).

A period that has not ended (this month, by default) is "to date": its revenue is also
compared with the same length of time into the period before (``ToDate``), since a few
days of this month set against the whole of last month would always look like a fall:
whole months and days from the rollups, and of the day that instant falls in, the
payments of its shorter part (at most half a day's).

Failures and reminders come from their monthly rollups too, so the page reads the same
few hundred rows for a month as for a year, at any size of the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from membership import clock
from membership.extensions import db
from membership.models import Payment
from membership.reports.models import (
    DailyRevenue,
    MonthlyFailures,
    MonthlyReminders,
    MonthlyRevenue,
    RecurringFlow,
)
from membership.reports.periods import Period, add_months, start_of
from membership.reports.rollups import day_of, month_of
from membership.vocabulary import Frequency

FREQUENCIES: tuple[str, ...] = tuple(Frequency)
CHART_MONTHS = 24


@dataclass
class Revenue:
    """Money paid in one currency over a period."""

    payments: int = 0
    gross_minor: int = 0
    refunded_minor: int = 0
    disputed_minor: int = 0
    net_by_frequency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FREQUENCIES, 0))
    gross_by_frequency: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(FREQUENCIES, 0)
    )

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunded_minor - self.disputed_minor

    @property
    def average_gift_minor(self) -> int:
        """Gross per payment, rounded down to the minor unit."""
        return self.gross_minor // self.payments if self.payments else 0


@dataclass
class Recurring:
    """Recurring support in one currency: at the end of a period, and moves within it."""

    active: int = 0
    monthly_minor: int = 0
    annual_minor: int = 0
    started: int = 0
    ended: int = 0

    @property
    def mrr_minor(self) -> int:
        return self.monthly_minor + self.annual_minor // 12

    @property
    def arr_minor(self) -> int:
        return self.monthly_minor * 12 + self.annual_minor


@dataclass
class Failures:
    count: int = 0
    amount_minor: int = 0


@dataclass
class CurrencyFigures:
    """One currency's figures for the period and the one before it."""

    currency: str
    revenue: Revenue
    previous_revenue: Revenue
    recurring: Recurring
    previous_recurring: Recurring
    failures: Failures
    previous_failures: Failures
    # When the period is to date: the period before's revenue over the same length of time.
    previous_same_time: Revenue | None = None


@dataclass(frozen=True)
class ToDate:
    """How far into a period that has not ended the figures go, and the same point into
    the period before it."""

    until: datetime
    previous_until: datetime
    days: int  # days begun since the period started: 1 on its first day

    @property
    def label(self) -> str:
        return "the first day" if self.days == 1 else f"the first {self.days} days"


@dataclass
class Reminders:
    scheduled: int = 0
    sent: int = 0
    converted: int = 0


@dataclass
class RevenueBar:
    month: str
    net_by_frequency: dict[str, int]


@dataclass
class Dashboard:
    period: Period
    previous: Period
    currencies: list[CurrencyFigures]
    reminders: Reminders
    previous_reminders: Reminders
    # Per currency, the last CHART_MONTHS months up to the period's end.
    revenue_chart: dict[str, list[RevenueBar]]
    # Active recurring supports (all currencies: a count, not money) at each month's end.
    active_chart: list[tuple[str, int]]
    # None for a period that has ended.
    to_date: ToDate | None = None

    @property
    def period_label(self) -> str:
        """The period, saying when it has not ended ("2026-12, month to date")."""
        if self.to_date is None:
            return self.period.label
        return (
            f"{self.period.label}, {'month' if len(self.period.months) == 1 else 'period'} to date"
        )


def to_date(period: Period, now: datetime) -> ToDate | None:
    """Where ``now`` is in ``period``, if the period has started and not ended."""
    if not period.starts_at <= now < period.ends_before:
        return None
    elapsed = now - period.starts_at
    previous = period.previous()
    return ToDate(
        until=now,
        previous_until=min(previous.starts_at + elapsed, previous.ends_before),
        days=elapsed.days + 1,
    )


def dashboard(period: Period, now: datetime | None = None) -> Dashboard:
    """Everything ``/staff/`` shows for ``period`` compared with the one before it (and,
    while ``period`` runs, with the same time into the one before)."""
    previous = period.previous()
    partial = to_date(period, now or clock.now())
    chart_first = add_months(period.last, 1 - CHART_MONTHS)
    revenue_rows = _revenue_rows(min(previous.first, chart_first), period.last)
    same_time = _same_time(previous, partial.previous_until, revenue_rows) if partial else {}
    flow = _flow()

    currencies = sorted(
        {row.currency for row in revenue_rows} | {row.currency for row in flow if row.supports}
    )
    failures = _failures(previous, period)
    figures = [
        CurrencyFigures(
            currency=currency,
            revenue=_revenue(revenue_rows, currency, period),
            previous_revenue=_revenue(revenue_rows, currency, previous),
            recurring=_recurring(flow, currency, period),
            previous_recurring=_recurring(flow, currency, previous),
            failures=failures.get((period.first, currency), Failures()),
            previous_failures=failures.get((previous.first, currency), Failures()),
            previous_same_time=same_time.get(currency, Revenue()) if partial else None,
        )
        for currency in currencies
    ]
    chart_months = Period(chart_first, period.last).months
    reminders = _reminders(previous, period)
    return Dashboard(
        period=period,
        previous=previous,
        currencies=figures,
        reminders=reminders[period.first],
        previous_reminders=reminders[previous.first],
        revenue_chart={
            currency: [
                RevenueBar(
                    month,
                    _revenue(revenue_rows, currency, Period(month, month)).net_by_frequency,
                )
                for month in chart_months
            ]
            for currency in currencies
        },
        active_chart=_active_at_end_of_each(flow, chart_months),
        to_date=partial,
    )


def _revenue_between(start: datetime, end: datetime) -> dict[str, Revenue]:
    """Revenue per currency of the payments paid from ``start`` until (not including)
    ``end``, counted as ``rollups.payment_contributions`` counts them. At most half a
    day's payments, read from ``ix_payments_revenue_by_time`` alone."""
    rows = db.session.execute(
        select(
            Payment.currency,
            Payment.frequency,
            func.count(),
            func.coalesce(func.sum(Payment.amount_minor), 0),
            func.coalesce(func.sum(Payment.amount_refunded_minor), 0),
            func.coalesce(func.sum(Payment.held_minor), 0),
        )
        .where(Payment.paid_at >= start, Payment.paid_at < end)
        .group_by(Payment.currency, Payment.frequency)
    )
    return _revenue_per_currency(rows)


def _revenue_per_currency(rows: Iterable[Any]) -> dict[str, Revenue]:
    """Rows of (currency, frequency, payments, gross, refunded, disputed) added up."""
    revenue: dict[str, Revenue] = defaultdict(Revenue)
    for currency, frequency, payments, *sums in rows:
        # PostgreSQL sums bigints as numeric: back to whole minor units.
        gross, refunded, disputed = (int(value) for value in sums)
        figures = revenue[currency.upper()]
        figures.payments += payments
        figures.gross_minor += gross
        figures.refunded_minor += refunded
        figures.disputed_minor += disputed
        frequency = frequency if frequency in FREQUENCIES else "once"
        figures.net_by_frequency[frequency] += gross - refunded - disputed
        figures.gross_by_frequency[frequency] += gross
    return dict(revenue)


def _same_time(previous: Period, until: datetime, rows: list[MonthlyRevenue]) -> dict[str, Revenue]:
    """Revenue per currency of ``previous`` up to ``until``: its whole months from the
    monthly rollup, the whole days of the month ``until`` falls in from the daily one,
    and of the day ``until`` falls in, the payments of whichever part is the shorter (the
    hours before ``until``, added, or the hours after, taken from the day's rollup): at
    most half a day of payments read, whatever the period's length."""
    currencies = {row.currency for row in rows}
    if until >= previous.ends_before:
        return {currency: _revenue(rows, currency, previous) for currency in currencies}
    month = month_of(until)
    revenue = {currency: Revenue() for currency in currencies}
    if month != previous.first:
        whole = Period(previous.first, add_months(month, -1))
        for currency in currencies:
            _add(revenue[currency], _revenue(rows, currency, whole), +1)
    day_starts = until.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day_ends = day_starts + timedelta(days=1)
    hours_before = until - day_starts <= day_ends - until
    days = _daily_revenue(start_of(month), day_starts if hours_before else day_ends)
    for currency, part in days.items():
        _add(revenue.setdefault(currency, Revenue()), part, +1)
    if hours_before:
        for currency, part in _revenue_between(day_starts, until).items():
            _add(revenue.setdefault(currency, Revenue()), part, +1)
    else:
        for currency, part in _revenue_between(until, day_ends).items():
            _add(revenue.setdefault(currency, Revenue()), part, -1)
    return revenue


def _daily_revenue(start: datetime, end: datetime) -> dict[str, Revenue]:
    """Revenue per currency of the whole days from ``start`` until (not including) ``end``
    (both midnights, UTC), from the daily rollup: a month's days at most."""
    rows = db.session.execute(
        select(
            DailyRevenue.currency,
            DailyRevenue.frequency,
            DailyRevenue.payments,
            DailyRevenue.gross_minor,
            DailyRevenue.refunded_minor,
            DailyRevenue.disputed_minor,
        ).where(DailyRevenue.day >= day_of(start), DailyRevenue.day < day_of(end))
    )
    return _revenue_per_currency(rows)


def _add(total: Revenue, part: Revenue, sign: int) -> None:
    total.payments += sign * part.payments
    total.gross_minor += sign * part.gross_minor
    total.refunded_minor += sign * part.refunded_minor
    total.disputed_minor += sign * part.disputed_minor
    for frequency in FREQUENCIES:
        total.net_by_frequency[frequency] += sign * part.net_by_frequency[frequency]
        total.gross_by_frequency[frequency] += sign * part.gross_by_frequency[frequency]


def _revenue_rows(first: str, last: str) -> list[MonthlyRevenue]:
    return list(
        db.session.execute(
            select(MonthlyRevenue).where(
                MonthlyRevenue.month >= first, MonthlyRevenue.month <= last
            )
        ).scalars()
    )


def _revenue(rows: list[MonthlyRevenue], currency: str, period: Period) -> Revenue:
    revenue = Revenue()
    for row in rows:
        if row.currency != currency or not period.first <= row.month <= period.last:
            continue
        revenue.payments += row.payments
        revenue.gross_minor += row.gross_minor
        revenue.refunded_minor += row.refunded_minor
        revenue.disputed_minor += row.disputed_minor
        frequency = row.frequency if row.frequency in FREQUENCIES else "once"
        net = row.gross_minor - row.refunded_minor - row.disputed_minor
        revenue.net_by_frequency[frequency] += net
        revenue.gross_by_frequency[frequency] += row.gross_minor
    return revenue


@dataclass(frozen=True)
class FlowRow:
    """A row of ``report_recurring_flow`` as a plain tuple-like value (thousands are read
    per page, so ORM objects would cost more than the figures)."""

    start_month: str
    end_month: str
    currency: str
    frequency: str
    supports: int
    amount_minor: int


def _flow() -> list[FlowRow]:
    rows = db.session.execute(
        select(
            RecurringFlow.start_month,
            RecurringFlow.end_month,
            RecurringFlow.currency,
            RecurringFlow.frequency,
            RecurringFlow.supports,
            RecurringFlow.amount_minor,
        ).where(RecurringFlow.supports != 0)
    )
    return [FlowRow(*row) for row in rows]


def _is_active_at_end_of(row: FlowRow, month: str) -> bool:
    return row.start_month <= month and (row.end_month == "" or row.end_month > month)


def _recurring(flow: list[FlowRow], currency: str, period: Period) -> Recurring:
    recurring = Recurring()
    for row in flow:
        if row.currency != currency:
            continue
        if _is_active_at_end_of(row, period.last):
            recurring.active += row.supports
            if row.frequency == "annual":
                recurring.annual_minor += row.amount_minor
            else:
                recurring.monthly_minor += row.amount_minor
        if period.first <= row.start_month <= period.last:
            recurring.started += row.supports
        if row.end_month and period.first <= row.end_month <= period.last:
            recurring.ended += row.supports
    return recurring


def _active_at_end_of_each(flow: list[FlowRow], months: list[str]) -> list[tuple[str, int]]:
    """Active supports at the end of each month, in one pass: supports start counting in
    their start month and stop in their end month."""
    change: dict[str, int] = defaultdict(int)
    before = 0  # active at the end of the month before the first one shown
    for row in flow:
        if row.start_month < months[0]:
            before += row.supports
        else:
            change[row.start_month] += row.supports
        if row.end_month:
            if row.end_month < months[0]:
                before -= row.supports
            else:
                change[row.end_month] -= row.supports
    active, points = before, []
    for month in months:
        active += change[month]
        points.append((month, active))
    return points


def _failures(*periods: Period) -> dict[tuple[str, str], Failures]:
    """Failed collection attempts of recurring gifts in each period, per (the period's first
    month, currency): attempts, not invoices (one invoice that fails three times counts 3,
    as Stripe retried three times); the at-risk report lists the invoices."""
    found: dict[tuple[str, str], Failures] = defaultdict(Failures)
    first, last = min(p.first for p in periods), max(p.last for p in periods)
    rows = db.session.execute(
        select(
            MonthlyFailures.month,
            MonthlyFailures.currency,
            MonthlyFailures.failures,
            MonthlyFailures.amount_minor,
        ).where(MonthlyFailures.month >= first, MonthlyFailures.month <= last)
    )
    for month, currency, failures, amount_minor in rows:
        for period in periods:
            if period.first <= month <= period.last:
                figures = found[(period.first, currency)]
                figures.count += failures
                figures.amount_minor += amount_minor
    return {key: figures for key, figures in found.items() if figures.count or figures.amount_minor}


def _reminders(*periods: Period) -> dict[str, Reminders]:
    """Reminders asked for, sent and converted in each period (each counted by its own
    time), per the period's first month."""
    found = {period.first: Reminders() for period in periods}
    first, last = min(p.first for p in periods), max(p.last for p in periods)
    rows = db.session.execute(
        select(
            MonthlyReminders.month,
            MonthlyReminders.asked,
            MonthlyReminders.sent,
            MonthlyReminders.converted,
        ).where(MonthlyReminders.month >= first, MonthlyReminders.month <= last)
    )
    for month, asked, sent, converted in rows:
        for period in periods:
            if period.first <= month <= period.last:
                figures = found[period.first]
                figures.scheduled += asked
                figures.sent += sent
                figures.converted += converted
    return found
