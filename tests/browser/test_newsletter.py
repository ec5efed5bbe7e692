"""The newsletter in a real browser: sign up (ticking the consent), get the confirmation
email, follow its link, and the subscription is confirmed; then its unsubscribe link. The
same sign-up by keyboard alone; no serious accessibility violation on any of its pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.checks import link_in_mail, send_confirmations, subscriber
from tests.browser.conftest import Site
from tests.browser.keyboard import tab_to

SUBMIT = 'form[action*="/newsletter"] button[type="submit"]'


def test_signing_up_then_following_the_emailed_link_confirms(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page.goto(f"{fresh_site.url}/newsletter")
    assert serious_violations(page) == []
    screenshot(page, "newsletter")
    page.get_by_label("Your email").fill("news@example.org")
    page.get_by_role("checkbox").check()
    page.locator(SUBMIT).click()
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert serious_violations(page) == []
    screenshot(page, "newsletter-check-inbox")
    pending = subscriber(fresh_site, "news@example.org")
    assert pending is not None and pending.status == "pending"

    send_confirmations(fresh_site)
    page.goto(link_in_mail(fresh_site, "news@example.org", "confirm"))
    assert serious_violations(page) == []
    screenshot(page, "newsletter-confirmed")
    confirmed = subscriber(fresh_site, "news@example.org")
    assert confirmed is not None
    assert (confirmed.status, confirmed.confirmed_at is not None) == ("confirmed", True)

    page.goto(link_in_mail(fresh_site, "news@example.org", "unsubscribe"))
    assert serious_violations(page) == []
    page.get_by_role("button", name=re.compile("unsubscribe", re.I)).click()
    expect(page.locator("h1")).to_have_text("Your address is erased")
    assert serious_violations(page) == []
    screenshot(page, "newsletter-unsubscribed")
    assert subscriber(fresh_site, "news@example.org") is None  # the address is erased


def test_a_keyboard_alone_signs_up(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/newsletter")
    tab_to(page, "#email")
    page.keyboard.type("keys-news@example.org")
    tab_to(page, 'input[name="consent"]')
    page.keyboard.press("Space")
    tab_to(page, SUBMIT)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Check your inbox")
    assert subscriber(fresh_site, "keys-news@example.org") is not None


def test_without_consent_nothing_is_stored(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/newsletter")
    page.get_by_label("Your email").fill("no-consent@example.org")
    page.locator(SUBMIT).click()
    expect(page.locator("#error-summary")).to_be_visible()
    assert serious_violations(page) == []
    assert subscriber(fresh_site, "no-consent@example.org") is None
