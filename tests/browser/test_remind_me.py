"""Remind me later in a real browser: from the support page's link, a reader leaves an
email and a time, the page confirms, and the reminder exists in the database with the
gift it is about; the same by keyboard alone; no serious accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from membership import clock
from membership.extensions import db
from membership.reminders.models import Reminder
from tests.browser.axe import serious_violations
from tests.browser.checks import reminders_for
from tests.browser.conftest import Site
from tests.browser.keyboard import tab_to

SUBMIT = 'form[action*="/remind-me"] button[type="submit"]'


def test_a_reader_asks_to_be_reminded_from_the_support_page(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page.goto(f"{fresh_site.url}/support?frequency=annual")
    page.get_by_role("link", name=re.compile("Remind me later", re.I)).click()
    page.wait_for_url(re.compile(r"/remind-me\?"))
    assert serious_violations(page) == []
    screenshot(page, "remind-me")
    page.get_by_label("Your email").fill("later@example.org")
    page.get_by_label("In 1 week").check()
    page.locator(SUBMIT).click()
    expect(page.locator("h1")).to_have_text("We will remind you")
    assert serious_violations(page) == []
    screenshot(page, "remind-me-scheduled")
    (reminder,) = reminders_for(fresh_site, "later@example.org")
    assert reminder.status == "scheduled"
    assert reminder.frequency == "annual"
    assert timedelta(days=6) < reminder.due_at - clock.now() < timedelta(days=8)


def test_a_keyboard_alone_asks_for_a_reminder(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/support?frequency=monthly")
    tab_to(page, 'a[href*="/remind-me"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/remind-me\?"))
    tab_to(page, "#email")
    page.keyboard.type("keys@example.org")
    tab_to(page, 'input[name="when"]')  # the checked choice: in 1 month
    page.keyboard.press("Space")
    tab_to(page, SUBMIT)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("We will remind you")
    (reminder,) = reminders_for(fresh_site, "keys@example.org")
    assert reminder.frequency == "monthly"
    assert timedelta(days=27) < reminder.due_at - clock.now() < timedelta(days=32)


def test_a_missing_email_is_announced_and_nothing_is_stored(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/remind-me")
    page.locator(SUBMIT).click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert page.get_by_label("Your email").get_attribute("aria-invalid") == "true"
    assert serious_violations(page) == []
    with fresh_site.app.app_context():
        assert db.session.scalars(select(Reminder)).all() == []
