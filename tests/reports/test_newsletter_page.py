"""The staff newsletter page: subscribers over time, confirmations, unsubscribes and how many
subscribers later gave, as counts that name no one. Who may open it is the table of
``tests/staff/test_roles.py``; the figures themselves are tested in
``tests/newsletter/test_cli.py`` (``flask newsletter status`` shares them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from membership import clock
from membership.extensions import db
from tests.newsletter.test_cli import gave, subscriber

EMAILS = ["gave@example.org", "gave-before@example.org", "quiet@example.org", "wait@example.org"]


@pytest.fixture
def newsletter_history(app_ctx: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three confirmed subscribers (one gave after confirming, one only before), one who
    left, one still to confirm; "now" is mid-December 2026."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 15, 9, 0, tzinfo=UTC))
    subscriber(EMAILS[0], "confirmed", "2026-09-10T00:00:00")
    subscriber(EMAILS[1], "confirmed", "2026-09-10T00:00:00")
    subscriber(EMAILS[2], "confirmed", "2026-11-03T00:00:00")
    subscriber(None, "unsubscribed", "2026-09-20T00:00:00", unsubscribed="2026-11-01T00:00:00")
    subscriber(EMAILS[3], "pending", None)
    gave(EMAILS[0], "2026-10-01T00:00:00")
    gave(EMAILS[1], "2026-08-01T00:00:00")
    db.session.commit()


def _figure(page: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}"><th[^>]*>[^<]*</th><td>(\d+)</td>', page)
    assert match, f"no {name} figure on the page"
    return match.group(1)


def _month_row(page: str, month: str) -> list[str]:
    match = re.search(rf'<tr data-month="{month}">(.*?)</tr>', page)
    assert match, f"no row for {month}"
    return re.findall(r'data-figure="\w+">(\d+)</td>', match.group(1))


def test_the_page_shows_the_newsletters_figures_month_by_month(
    newsletter_history: None, signed_in_client: Callable[..., Any]
) -> None:
    response = signed_in_client("viewer").get("/staff/reports/newsletter")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert [_figure(page, f) for f in ("subscribers", "pending", "unsubscribed", "later-gave")] == [
        "3",
        "1",
        "1",
        "1",
    ]
    # confirmations, unsubscribes, subscribers at the month's end; newest first, to now.
    assert _month_row(page, "2026-09") == ["3", "0", "3"]
    assert _month_row(page, "2026-10") == ["0", "0", "3"]
    assert _month_row(page, "2026-11") == ["1", "1", "3"]
    assert _month_row(page, "2026-12") == ["0", "0", "3"]
    assert page.index('data-month="2026-12"') < page.index('data-month="2026-09"')
    assert re.search(r'data-month="2026-12"><th scope="row">2026-12 \(to date\)', page)
    assert "<title>Newsletter subscribers at the end of each month</title>" in page


def test_the_page_names_no_subscriber(
    newsletter_history: None, signed_in_client: Callable[..., Any]
) -> None:
    client = signed_in_client("admin")
    page = client.get("/staff/reports/newsletter").get_data(as_text=True)
    assert not any(email in page for email in EMAILS)
    addresses = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", page))
    assert addresses == {client.staff.email}


def test_the_page_says_so_before_anyone_subscribed(signed_in_client: Callable[..., Any]) -> None:
    page = signed_in_client("viewer").get("/staff/reports/newsletter").get_data(as_text=True)
    assert "No confirmed subscriber yet" in page
    assert _figure(page, "subscribers") == "0"


def test_the_staff_menu_links_the_page(signed_in_client: Callable[..., Any]) -> None:
    page = signed_in_client("viewer").get("/staff/").get_data(as_text=True)
    assert '<a href="/staff/reports/newsletter">Newsletter</a>' in page
