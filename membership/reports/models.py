"""Rollup tables behind the staff reports: small sums kept up to date as the ledger changes.

Query strategy (issue 5, "fast at a million payments"): a report never scans payments or
recurring supports. Every money figure is read from these tables, one row per calendar
month (UTC, ``YYYY-MM``) and currency and the dimension the report splits by, a few
thousand rows at most after years of activity. They are maintained by delta in the
same transaction as the ledger change that moves them (``membership.reports.rollups``),
and ``flask reports rebuild-rollups`` recomputes them from the ledger.

Key columns are never NULL (an unknown frequency is ``""``), so each row can be
upserted with ``INSERT ... ON CONFLICT DO UPDATE`` on its primary key. On SQLite the
tables are ``WITHOUT ROWID``: rows are stored in key order, so a range of months is
read sequentially.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from membership.extensions import db
from membership.ledger.models import Payment
from membership.reminders.models import Reminder


class MonthlyRevenue(db.Model):  # type: ignore[name-defined]
    """Payments of one month, currency and frequency: what was paid, refunded and disputed.

    Net is ``gross - refunded - disputed`` where ``disputed`` is money held by an open or
    lost dispute (the rule of ``Payment.net_minor``). The month is that of ``paid_at``.
    """

    __tablename__ = "report_monthly_revenue"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10), primary_key=True)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class RecurringFlow(db.Model):  # type: ignore[name-defined]
    """Recurring supports counted by the month they started and the month they ended.

    ``end_month`` is ``""`` while the support goes on; ``months_lasted`` is the number of
    whole months from start to end (``-1`` while it goes on). From this one table come
    active supporters and MRR at the end of any month, new and ended supports per
    month, and cohort retention. ``amount_minor`` is the sum of the supports' current
    amounts per period of their frequency (a month or a year).
    """

    __tablename__ = "report_recurring_flow"
    __table_args__ = {"sqlite_with_rowid": False}

    start_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    end_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    months_lasted: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10), primary_key=True)
    supports: Mapped[int] = mapped_column(Integer, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class MonthlySource(db.Model):  # type: ignore[name-defined]
    """Where gifts came from, per month, currency and dimension: payments and checkouts.

    Each payment and checkout attempt counts once under each ``dimension``: ``source``
    (the article URL or campaign page), ``utm_source``, ``utm_medium`` and
    ``utm_campaign``, with ``value`` that field (``""`` when absent). Keeping the
    dimensions apart, rather than every combination, keeps a month to a few hundred
    rows. Payments count in the month paid, attempts in the month the reader pressed
    Continue.
    """

    __tablename__ = "report_monthly_sources"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(500), primary_key=True)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_paid: Mapped[int] = mapped_column(Integer, default=0)


class DailyRevenue(db.Model):  # type: ignore[name-defined]
    """``MonthlyRevenue`` by day (UTC, ``YYYY-MM-DD``): the dashboard sets a month that has
    not ended against the same days of the month before, and reads those days here, so
    that at most a part of one day's payments is summed from the ledger."""

    __tablename__ = "report_daily_revenue"
    __table_args__ = {"sqlite_with_rowid": False}

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    frequency: Mapped[str] = mapped_column(String(10), primary_key=True)
    payments: Mapped[int] = mapped_column(Integer, default=0)
    gross_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    disputed_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class MonthlyFailures(db.Model):  # type: ignore[name-defined]
    """Failed attempts to collect a recurring gift, per month of ``failed_at`` and currency:
    each attempt counts (an invoice that fails three times counts 3), with its amount."""

    __tablename__ = "report_monthly_failures"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class MonthlyReminders(db.Model):  # type: ignore[name-defined]
    """Reminders asked for, sent and converted per month, each counted in the month of its
    own time (``created_at``, ``sent_at``, ``converted_at``): a reminder asked for in one
    month and sent in the next counts once in each."""

    __tablename__ = "report_monthly_reminders"
    __table_args__ = {"sqlite_with_rowid": False}

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    asked: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    converted: Mapped[int] = mapped_column(Integer, default=0)


# Indexes on the ledger's and reminders' tables that two report queries read alone, never
# the rows (an index-only scan on PostgreSQL, a covering index on SQLite): the dashboard's
# "same days of the month before" adds up a part of a month's payments, the sources page
# counts a period's reminders by source. Declared here, beside the reports that need them;
# made by migration 0019 (concurrently on PostgreSQL).
Index(
    "ix_payments_revenue_by_time",
    Payment.__table__.c.paid_at,
    Payment.__table__.c.currency,
    Payment.__table__.c.frequency,
    Payment.__table__.c.status,
    Payment.__table__.c.amount_minor,
    Payment.__table__.c.amount_refunded_minor,
    Payment.__table__.c.amount_disputed_minor,
)
Index(
    "ix_reminders_sources_by_time",
    Reminder.__table__.c.created_at,
    Reminder.__table__.c.source,
    Reminder.__table__.c.status,
    Reminder.__table__.c.sent_at,
)
