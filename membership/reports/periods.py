"""Report periods: whole calendar months in UTC, as the rollups count them.

A period runs from the first instant of its first month to the first instant after its
last month (``2026-11`` is 2026-11-01T00:00:00Z up to, not including,
2026-12-01T00:00:00Z), so a payment at 23:59:59 on the 30th belongs to November.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from membership import clock

_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
MAX_MONTHS = 120


class InvalidPeriod(ValueError):
    """A month that is not YYYY-MM, or a period that ends before it starts."""


def month_index(month: str) -> int:
    """Months since year 0, so months can be added and compared as numbers."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_months(month: str, count: int) -> str:
    return month_name(month_index(month) + count)


def start_of(month: str) -> datetime:
    """The first instant (UTC) of a ``YYYY-MM`` month."""
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def this_month() -> str:
    return clock.now().strftime("%Y-%m")


def parse_month(text: str) -> str:
    value = text.strip()
    if _MONTH.fullmatch(value) and 1 <= int(value[5:7]) <= 12 and 1970 <= int(value[:4]) <= 9998:
        return value
    raise InvalidPeriod(f"{text!r} is not a month: write it YYYY-MM, say 2026-11")


@dataclass(frozen=True)
class Period:
    """Whole months ``first`` to ``last``, both included."""

    first: str
    last: str

    @property
    def months(self) -> list[str]:
        return [month_name(i) for i in range(month_index(self.first), month_index(self.last) + 1)]

    @property
    def starts_at(self) -> datetime:
        return start_of(self.first)

    @property
    def ends_before(self) -> datetime:
        return start_of(add_months(self.last, 1))

    @property
    def label(self) -> str:
        return self.first if self.first == self.last else f"{self.first} to {self.last}"

    def previous(self) -> Period:
        """The period of the same length just before this one (last month, for a month)."""
        length = len(self.months)
        return Period(add_months(self.first, -length), add_months(self.first, -1))


def parse_period(first: str | None, last: str | None) -> Period:
    """The months asked for (``from`` and ``to``, YYYY-MM); this month when neither is given."""
    start = parse_month(first) if first else None
    end = parse_month(last) if last else None
    start = start or end or this_month()
    end = end or start
    if month_index(end) < month_index(start):
        raise InvalidPeriod(f"the period ends ({end}) before it starts ({start})")
    if month_index(end) - month_index(start) >= MAX_MONTHS:
        raise InvalidPeriod(f"a period is at most {MAX_MONTHS} months")
    return Period(start, end)
