"""A month that has not ended is "month to date", and set against the same days before it.

November 2026 (UTC), USD: $10 on the 2nd, $30 on the 20th. December: $20 on the 3rd.
On 5 December at noon, December so far ($20) is compared with 1-5 November ($10, up to
noon), and with the whole of November ($40); never only with the whole month.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from membership import clock
from membership.demo import seed as demo_seed
from membership.reports.dashboard import _revenue_between, dashboard, to_date
from membership.reports.periods import Period
from tests.reports.test_figures import deliver_all, once

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DECEMBER, NOVEMBER = Period("2026-12", "2026-12"), Period("2026-11", "2026-11")


@pytest.fixture
def payments(client: FlaskClient, app_ctx: None) -> None:
    deliver_all(
        client,
        once(1, 1000, "2026-11-02T09:00:00"),
        once(2, 3000, "2026-11-20T09:00:00"),
        once(3, 500, "2026-11-05T12:00:00"),  # the instant "now" falls on a month before: out
        once(4, 2000, "2026-12-03T09:00:00"),
    )


def usd(period: Period) -> Any:
    [figures] = dashboard(period, now=NOW).currencies
    return figures


def test_a_running_month_is_compared_with_the_same_days_of_the_month_before(
    payments: None,
) -> None:
    figures = usd(DECEMBER)
    assert figures.revenue.gross_minor == 2000
    assert figures.previous_same_time.gross_minor == 1000
    assert figures.previous_same_time.payments == 1
    assert figures.previous_revenue.gross_minor == 4500  # the whole of November, too
    assert dashboard(DECEMBER, now=NOW).period_label == "2026-12, month to date"


def test_a_month_that_has_ended_is_compared_whole_with_whole(payments: None) -> None:
    board = dashboard(NOVEMBER, now=NOW)
    assert board.to_date is None
    assert board.period_label == "2026-11"
    assert board.currencies[0].previous_same_time is None


@pytest.mark.parametrize(
    ("now", "days", "previous_until"),
    [
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), 1, datetime(2026, 11, 1, 0, 0, tzinfo=UTC)),
        (NOW, 5, datetime(2026, 11, 5, 12, 0, tzinfo=UTC)),
        # 31 December: November has 30 days, so the comparison stops at its end.
        (
            datetime(2026, 12, 31, 18, 0, tzinfo=UTC),
            31,
            datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
        ),
    ],
    ids=["first-instant", "fifth-day", "longer-than-the-month-before"],
)
def test_the_same_time_into_the_month_before(
    now: datetime, days: int, previous_until: datetime
) -> None:
    running = to_date(DECEMBER, now)
    assert running is not None
    assert (running.days, running.previous_until) == (days, previous_until)


def test_the_dashboard_page_says_month_to_date_and_shows_both_comparisons(
    payments: None,
    signed_in_client: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    page = signed_in_client("viewer").get("/staff/").get_data(as_text=True)
    assert "<h1>Dashboard: 2026-12, month to date</h1>" in page
    assert "2026-12 has not ended: its figures run to now, the first 5 days." in page
    assert re.search(
        r'<th scope="col">2026-11, the first 5 days</th><th scope="col">2026-11 \(whole\)</th>',
        page,
    )
    assert re.search(
        r'<tr data-figure="gross"><th scope="row">Gross revenue</th>'
        r"<td>\$20.00</td><td>\$10.00</td><td>\$45.00</td></tr>",
        page,
    )
    assert "MRR (now)" in page


def test_a_past_month_page_has_no_to_date_column(
    payments: None,
    signed_in_client: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    page = signed_in_client("viewer").get("/staff/?from=2026-11").get_data(as_text=True)
    assert "<h1>Dashboard: 2026-11</h1>" in page
    assert "to date" not in page
    assert "MRR (at period end)" in page


@pytest.mark.parametrize(
    ("period", "now"),
    [
        (DECEMBER, NOW),  # the days before: read from the payments
        (DECEMBER, datetime(2026, 12, 26, 7, 30, tzinfo=UTC)),  # the days after: taken away
        (DECEMBER, datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),  # all of November
        (Period("2026-10", "2026-12"), datetime(2026, 11, 20, tzinfo=UTC)),
        (Period("2026-01", "2026-12"), datetime(2026, 8, 2, tzinfo=UTC)),
    ],
    ids=["early-in-the-month", "late-in-the-month", "whole", "quarter", "year"],
)
def test_the_same_time_before_is_what_the_payments_of_that_time_add_up_to(
    app_ctx: None, monkeypatch: pytest.MonkeyPatch, period: Period, now: datetime
) -> None:
    """Whole months come from the rollups and at most half a month from the payments;
    the sum is the one the payments of exactly that time give."""
    monkeypatch.setattr(clock, "now", lambda: now)
    demo_seed.seed(60, 600, seed_value=8)
    running = to_date(period, now)
    assert running is not None
    expected = _revenue_between(period.previous().starts_at, running.previous_until)

    board = dashboard(period, now=now)

    found = {c.currency: c.previous_same_time for c in board.currencies}
    assert {c: r for c, r in found.items() if r and r.payments} == expected
    assert sum(r.payments for r in expected.values()) > 0
