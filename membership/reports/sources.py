"""Where supporters come from: revenue, gifts started and checkout conversion per source.

Read from the ``report_monthly_sources`` rollup. A source is the article URL or
campaign the reader came from plus ``utm_source``, ``utm_medium`` and
``utm_campaign``. "Gifts started" are checkouts that ended paid (a one-time gift or a
new recurring support); conversion is gifts started / checkouts opened. Revenue is
counted in the month paid (renewals keep the source of the gift that started them),
checkouts in the month they were opened, each per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select

from membership.extensions import db
from membership.reminders.models import Reminder
from membership.reports.models import MonthlySource
from membership.reports.periods import Period

MAX_ROWS = 200


@dataclass
class SourceRow:
    currency: str
    source: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
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
    source: str
    asked: int
    sent: int
    converted: int

    @property
    def conversion_percent(self) -> float | None:
        return 100 * self.converted / self.sent if self.sent else None


@dataclass
class SourcesReport:
    period: Period
    rows: list[SourceRow]
    reminders: list[ReminderSourceRow]


def sources_report(period: Period) -> SourcesReport:
    """The top sources by net revenue in each currency, and reminders by source."""
    net = func.sum(
        MonthlySource.gross_minor - MonthlySource.refunded_minor - MonthlySource.disputed_minor
    )
    rows = db.session.execute(
        select(
            MonthlySource.currency,
            func.max(MonthlySource.source),
            func.max(MonthlySource.utm_source),
            func.max(MonthlySource.utm_medium),
            func.max(MonthlySource.utm_campaign),
            func.sum(MonthlySource.payments),
            func.sum(MonthlySource.gross_minor),
            net.label("net"),
            func.sum(MonthlySource.attempts),
            func.sum(MonthlySource.attempts_paid),
        )
        .where(MonthlySource.month >= period.first, MonthlySource.month <= period.last)
        .group_by(MonthlySource.currency, MonthlySource.source_key)
        .order_by(MonthlySource.currency, net.desc(), func.sum(MonthlySource.attempts).desc())
        .limit(MAX_ROWS)
    )
    return SourcesReport(
        period=period,
        rows=[_source_row(row) for row in rows],
        reminders=_reminders_by_source(period),
    )


def _source_row(row: Any) -> SourceRow:
    currency, source, utm_source, utm_medium, utm_campaign, *sums = row
    payments, gross, net, checkouts, started = (int(v or 0) for v in sums)
    return SourceRow(
        currency,
        source,
        utm_source,
        utm_medium,
        utm_campaign,
        payments,
        gross,
        net,
        checkouts,
        started,
    )


def _reminders_by_source(period: Period) -> list[ReminderSourceRow]:
    """Reminders asked for in the period, by the page they were asked from, with how many
    were sent and how many brought a gift (at any time since)."""
    in_period = and_(
        Reminder.created_at >= period.starts_at, Reminder.created_at < period.ends_before
    )
    source = func.coalesce(Reminder.source, "")
    rows = db.session.execute(
        select(
            source,
            func.count(),
            func.sum(case((Reminder.sent_at.is_not(None), 1), else_=0)),
            func.sum(case((Reminder.status == "converted", 1), else_=0)),
        )
        .where(in_period)
        .group_by(source)
        .order_by(func.count().desc())
        .limit(MAX_ROWS)
    )
    return [ReminderSourceRow(s, int(a), int(b or 0), int(c or 0)) for s, a, b, c in rows]
