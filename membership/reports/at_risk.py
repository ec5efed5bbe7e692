"""Supporters about to lapse: recurring supports past due, and recent failed payments.

Both lists are index lookups (``recurring_supports.status``, ``payment_failures.failed_at``)
capped at ``MAX_ROWS``, with each row's supporter found by key; the totals say how many
there are in all. ``at_risk_counts`` gives the totals alone, for staff who may not see
supporters (it reads no supporter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from membership import clock
from membership.extensions import db
from membership.models import PaymentFailure, RecurringSupport, Supporter

MAX_ROWS = 200
RECENT_FAILURES_DAYS = 30
AT_RISK_STATUSES = ("past_due", "unpaid")


@dataclass
class PastDue:
    recurring_support_id: int
    supporter_id: int | None
    email: str | None
    status: str
    frequency: str | None
    amount_minor: int | None
    currency: str | None
    since: datetime | None


@dataclass
class RecentFailure:
    supporter_id: int | None
    email: str | None
    amount_minor: int
    currency: str
    attempt_count: int
    failed_at: datetime
    recurring_status: str | None


@dataclass
class AtRiskReport:
    past_due: list[PastDue]
    past_due_total: int
    failures: list[RecentFailure]
    failures_total: int
    failures_since: datetime
    # False for the counts alone (``at_risk_counts``): the lists are empty, not "no one".
    listed: bool = True


def _email_of(supporter_id: Any) -> Any:
    """The supporter's email, looked up by key for each listed row: as a join, on tables
    not analyzed yet, PostgreSQL's plan read every supporter to list a few."""
    return select(Supporter.email).where(Supporter.id == supporter_id).scalar_subquery()


def at_risk_report() -> AtRiskReport:
    """Past-due recurring supports, longest overdue first, and the last 30 days' failures."""
    past_due_rows = db.session.execute(
        select(RecurringSupport, _email_of(RecurringSupport.supporter_id))
        .where(RecurringSupport.status.in_(AT_RISK_STATUSES))
        .order_by(RecurringSupport.status_as_of.asc().nulls_last(), RecurringSupport.id)
        .limit(MAX_ROWS)
    )
    past_due = [
        PastDue(
            recurring_support_id=support.id,
            supporter_id=support.supporter_id,
            email=email,
            status=support.status,
            frequency=support.frequency,
            amount_minor=support.amount_minor,
            currency=support.currency,
            since=support.status_as_of,
        )
        for support, email in past_due_rows
    ]
    past_due_total = _past_due_total()
    since = _failures_since()
    failure_rows = db.session.execute(
        select(
            PaymentFailure,
            _email_of(PaymentFailure.supporter_id),
            select(RecurringSupport.status)
            .where(RecurringSupport.id == PaymentFailure.recurring_support_id)
            .scalar_subquery(),
        )
        .where(PaymentFailure.failed_at >= since)
        .order_by(PaymentFailure.failed_at.desc(), PaymentFailure.id.desc())
        .limit(MAX_ROWS)
    )
    failures = [
        RecentFailure(
            supporter_id=failure.supporter_id,
            email=email,
            amount_minor=failure.amount_minor,
            currency=failure.currency,
            attempt_count=failure.attempt_count,
            failed_at=failure.failed_at,
            recurring_status=status,
        )
        for failure, email, status in failure_rows
    ]
    return AtRiskReport(
        past_due=past_due,
        past_due_total=past_due_total,
        failures=failures,
        failures_total=_failures_total(since),
        failures_since=since,
    )


def at_risk_counts() -> AtRiskReport:
    """How many supports are past due and how many payments failed lately; no rows."""
    since = _failures_since()
    return AtRiskReport(
        past_due=[],
        past_due_total=_past_due_total(),
        failures=[],
        failures_total=_failures_total(since),
        failures_since=since,
        listed=False,
    )


def _past_due_total() -> int:
    count = db.session.scalar(
        select(func.count()).where(RecurringSupport.status.in_(AT_RISK_STATUSES))
    )
    return count or 0


def _failures_since() -> datetime:
    return clock.now() - timedelta(days=RECENT_FAILURES_DAYS)


def _failures_total(since: datetime) -> int:
    count = db.session.scalar(select(func.count()).where(PaymentFailure.failed_at >= since))
    return count or 0
