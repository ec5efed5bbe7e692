"""/support in a real browser: a reader chooses Annual and an amount, Continue lands on
(the fake) Stripe Checkout with those terms, paying comes back to the thank-you page; the
same by keyboard alone; no serious accessibility violation on either page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.browser.axe import serious_violations
from tests.browser.checks import checkout_terms
from tests.browser.conftest import Site
from tests.browser.keyboard import tab_to

CONTINUE = 'form[action*="/support/checkout"] button[type="submit"]'


def test_annual_gift_lands_on_checkout_with_its_terms(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/support")
    page.get_by_role("link", name="Annual").click()
    page.wait_for_url(re.compile(r"frequency=annual"))
    page.get_by_label(re.compile("another amount", re.I)).fill("75")
    page.locator(CONTINUE).click()
    terms = checkout_terms(page)
    assert terms["mode"] == "subscription"
    assert terms["interval"] == "year"
    assert (terms["amount"], terms["currency"]) == ("7500", "usd")


def test_paying_at_checkout_returns_to_the_thank_you_page(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page.goto(f"{fresh_site.url}/support?frequency=monthly")
    page.get_by_label(re.compile("another amount", re.I)).fill("12")
    page.locator(CONTINUE).click()
    assert checkout_terms(page)["interval"] == "month"
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/support/thank-you\?session_id=cs_test_"))
    text = page.locator("main").inner_text()
    assert "Thank you" in text
    assert "12" in text and "month" in text.lower()
    assert serious_violations(page) == []
    screenshot(page, "thank-you")


def test_a_keyboard_alone_chooses_continues_and_pays(page: Any, fresh_site: Site) -> None:
    """Tab to reach each control, Enter or Space to use it, typing only the amount."""
    page.goto(f"{fresh_site.url}/support")
    tab_to(page, 'a[href*="frequency=annual"]')
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"frequency=annual"))
    tab_to(page, "#custom_amount")
    page.keyboard.type("60")
    tab_to(page, CONTINUE)
    page.keyboard.press("Enter")
    terms = checkout_terms(page)
    assert (terms["interval"], terms["amount"]) == ("year", "6000")
    tab_to(page, "button")
    page.keyboard.press("Space")
    page.wait_for_url(re.compile(r"/support/thank-you"))
    assert "Thank you" in page.locator("main").inner_text()


def test_a_preset_is_chosen_with_space(page: Any, fresh_site: Site) -> None:
    """Tab into the presets, Space picks the focused one, Continue sends it."""
    page.goto(f"{fresh_site.url}/support?frequency=once")
    tab_to(page, 'input[name="amount"]')
    chosen = page.evaluate("document.activeElement.value")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") is True
    tab_to(page, CONTINUE)
    page.keyboard.press("Enter")
    terms = checkout_terms(page)
    assert terms["mode"] == "payment"
    assert int(terms["amount"]) == round(float(chosen) * 100)


def test_the_support_page_has_no_serious_accessibility_violation(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    for frequency in ("monthly", "annual"):
        page.goto(f"{fresh_site.url}/support?frequency={frequency}")
        assert serious_violations(page) == [], frequency
    page.set_viewport_size({"width": 390, "height": 900})
    assert serious_violations(page) == []
    screenshot(page, "support")


def test_a_mistake_is_announced_and_focused(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/support?frequency=once")
    page.get_by_label(re.compile("another amount", re.I)).fill("0.5")
    page.locator(CONTINUE).click()
    page.locator("#error-summary").wait_for()
    # The page's deferred script moves focus to the summary, so a screen reader starts there.
    page.wait_for_function("() => document.activeElement.id === 'error-summary'")
    assert serious_violations(page) == []
