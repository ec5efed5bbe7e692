"""Where supporters come from: revenue, gifts started and checkout conversion per source.

Read from the ``report_monthly_sources`` rollup, one table per dimension: the article
URL or campaign page the reader came from (``source``), ``utm_campaign``,
``utm_source`` and ``utm_medium``. "Gifts started" are checkouts that ended paid (a
one-time gift or a new recurring support); conversion is gifts started / checkouts
opened. Revenue is
counted in the month paid (renewals keep the source of the gift that started them),
checkouts in the month they were opened, each per currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from membership.extensions import db
from membership.reminders.models import Reminder
from membership.reports.models import MonthlySource
from membership.reports.periods import Period

ROWS_PER_DIMENSION = 50
MAX_ROWS = 200
DIMENSION_TITLES = {
    "source": "Article or page",
    "utm_campaign": "Campaign (utm_campaign)",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
}


@dataclass
class SourceRow:
    currency: str
    value: str
    payments: int
    gross_minor: int
    net_minor: int
    checkouts: int
    gifts_started: int

    @property
    def conversion_percent(self) -> float | None:
        return 100 * self.gifts_started / self.checkouts if self.checkouts else None


@dataclass
class ReminderSourceRow:
    """``converted``: sent, then the reader gave; ``gave_first``: the reader gave before
    the reminder was due, so it was never sent. Conversion is of what was sent."""

    source: str
    asked: int
    sent: int
    converted: int
    gave_first: int = 0

    @property
    def conversion_percent(self) -> float | None:
        return 100 * self.converted / self.sent if self.sent else None


@dataclass
class SourcesReport:
    period: Period
    # dimension -> its top rows by net revenue, then checkouts, per currency
    by_dimension: dict[str, list[SourceRow]]
    reminders: list[ReminderSourceRow]


def sources_report(period: Period) -> SourcesReport:
    """The top values of each source dimension in the period, and reminders by source."""
    net = func.sum(
        MonthlySource.gross_minor - MonthlySource.refunded_minor - MonthlySource.disputed_minor
    )
    rows = db.session.execute(
        select(
            MonthlySource.dimension,
            MonthlySource.currency,
            MonthlySource.value,
            func.sum(MonthlySource.payments),
            func.sum(MonthlySource.gross_minor),
            net,
            func.sum(MonthlySource.attempts),
            func.sum(MonthlySource.attempts_paid),
        )
        .where(MonthlySource.month >= period.first, MonthlySource.month <= period.last)
        .group_by(MonthlySource.dimension, MonthlySource.currency, MonthlySource.value)
    )
    by_dimension: dict[str, list[SourceRow]] = {d: [] for d in DIMENSION_TITLES}
    for dimension, currency, value, *sums in rows:
        payments, gross, net_minor, checkouts, started = (int(v or 0) for v in sums)
        if payments or checkouts:
            by_dimension.setdefault(dimension, []).append(
                SourceRow(currency, value, payments, gross, net_minor, checkouts, started)
            )
    for dimension, found in by_dimension.items():
        found.sort(key=lambda r: (r.currency, -r.net_minor, -r.checkouts, r.value))
        by_dimension[dimension] = _top_per_currency(found)
    return SourcesReport(period, by_dimension, _reminders_by_source(period))


def _top_per_currency(rows: list[SourceRow]) -> list[SourceRow]:
    kept: list[SourceRow] = []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.currency] = counts.get(row.currency, 0) + 1
        if counts[row.currency] <= ROWS_PER_DIMENSION:
            kept.append(row)
    return kept


def _reminders_by_source(period: Period) -> list[ReminderSourceRow]:
    """Reminders asked for in the period, by the page they were asked from, with how many
    were sent, how many of those brought a gift (at any time since), and how many readers
    gave before theirs was sent."""
    in_period = and_(
        Reminder.created_at >= period.starts_at, Reminder.created_at < period.ends_before
    )
    source = func.coalesce(Reminder.source, "")
    converted = Reminder.status == "converted"
    rows = db.session.execute(
        select(
            source,
            func.count(),
            func.sum(case((Reminder.sent_at.is_not(None), 1), else_=0)),
            func.sum(case((and_(converted, Reminder.sent_at.is_not(None)), 1), else_=0)),
            func.sum(case((and_(converted, Reminder.sent_at.is_(None)), 1), else_=0)),
        )
        .where(in_period)
        .group_by(source)
        .order_by(func.count().desc())
        .limit(MAX_ROWS)
    )
    return [
        ReminderSourceRow(s, int(a), int(b or 0), int(c or 0), int(d or 0))
        for s, a, b, c, d in rows
    ]
