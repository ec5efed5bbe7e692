"""Retention of recurring supporters by the month their recurring support started.

From the ``report_recurring_flow`` rollup: each cohort is the recurring supports that
started in one month (all currencies: these are counts, not money). A support is still
active after k months when it has not ended, or lasted at least k whole months
(Jan 15 to Feb 15 is one). A share is shown only once every support in the cohort
could have reached k months, i.e. from the start of month cohort + k + 1.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from membership.extensions import db
from membership.reports.models import RecurringFlow
from membership.reports.periods import add_months, month_index, this_month

RETENTION_MONTHS = (1, 3, 6, 12)
COHORT_MONTHS = 24


@dataclass
class Cohort:
    month: str
    supports: int
    # k -> share in percent, or None when the cohort is too young to tell
    retained_percent: dict[int, float | None]
    retained: dict[int, int | None]


def cohorts_report(months: int = COHORT_MONTHS, current: str | None = None) -> list[Cohort]:
    """The last ``months`` cohorts up to the ``current`` month (this one), newest first."""
    current = current or this_month()
    first = add_months(current, 1 - months)
    started: dict[str, int] = defaultdict(int)
    retained: dict[tuple[str, int], int] = defaultdict(int)
    flow = db.session.scalars(select(RecurringFlow).where(RecurringFlow.start_month >= first))
    for row in flow:
        started[row.start_month] += row.supports
        for k in RETENTION_MONTHS:
            if row.months_lasted < 0 or row.months_lasted >= k:
                retained[(row.start_month, k)] += row.supports
    cohorts = []
    for index in range(month_index(current), month_index(first) - 1, -1):
        month = add_months(first, index - month_index(first))
        total = started.get(month, 0)
        shares: dict[int, float | None] = {}
        counts: dict[int, int | None] = {}
        for k in RETENTION_MONTHS:
            old_enough = month_index(month) + k + 1 <= month_index(current)
            counts[k] = retained[(month, k)] if old_enough and total else None
            shares[k] = 100 * retained[(month, k)] / total if old_enough and total else None
        cohorts.append(Cohort(month, total, shares, counts))
    return cohorts
