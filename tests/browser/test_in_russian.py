"""A Russian reader in a real browser: the footer with ``data-lang="ru"`` on the script's
``<div>`` or ``?lang=ru`` on the iframe's address, and ``/support?lang=ru``. The reader
reads Russian, is reminded and subscribed in Russian, Stripe's Checkout opens in Russian
and the thank-you page answers in Russian."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.checks import (
    FOOTER,
    checkout_terms,
    open_article,
    reminders_for,
    subscriber,
)
from tests.browser.conftest import Site

CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")


def test_the_footer_in_russian(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    open_article(page, fresh_site, lang="ru")
    footer = page.locator(FOOTER)
    assert footer.get_attribute("lang") == "ru"
    assert CYRILLIC.search(page.locator("#mf-continue").inner_text())
    assert CYRILLIC.search(page.locator(".mf-lead").inner_text())
    assert serious_violations(page) == []
    screenshot(page, "footer-script-ru")
    page.locator("#mf-continue").click()
    assert checkout_terms(page)["locale"] == "ru"  # Stripe's Checkout in the reader's language


def test_the_iframe_footer_in_russian(page_without_javascript: Any, fresh_site: Site) -> None:
    page = page_without_javascript
    page.goto(fresh_site.article("iframe", lang="ru"))
    frame = page.frame_locator("iframe")
    assert frame.locator(FOOTER).get_attribute("lang") == "ru"
    assert CYRILLIC.search(frame.locator("#mf-continue").inner_text())


def test_a_russian_reader_is_reminded_and_subscribed_from_the_footer(
    page: Any, fresh_site: Site
) -> None:
    open_article(page, fresh_site, lang="ru")
    page.locator("#mf-remind-toggle").click()
    page.locator("#mf-remind-email").fill("ru-later@example.org")
    page.locator("#mf-remind-submit").click()
    expect(page.locator("#mf-remind-status")).to_contain_text(CYRILLIC)
    (reminder,) = reminders_for(fresh_site, "ru-later@example.org")
    assert reminder.language == "ru"  # its email will be in Russian
    page.locator("#mf-newsletter-email").fill("ru-news@example.org")
    page.locator("#mf-newsletter-consent").check()
    page.locator("#mf-newsletter-submit").click()
    expect(page.locator("#mf-newsletter-status")).to_contain_text(CYRILLIC)
    signed_up = subscriber(fresh_site, "ru-news@example.org")
    assert signed_up is not None and signed_up.language == "ru"


def test_a_russian_readers_gift_from_the_support_page(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page.goto(f"{fresh_site.url}/support?lang=ru&frequency=annual")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert CYRILLIC.search(page.locator("h1").inner_text())
    assert serious_violations(page) == []
    screenshot(page, "support-ru")
    page.locator('form[action*="/support/checkout"] button[type="submit"]').click()
    terms = checkout_terms(page)
    assert (terms["locale"], terms["interval"]) == ("ru", "year")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/support/thank-you"))
    assert page.locator("html").get_attribute("lang") == "ru"
    assert CYRILLIC.search(page.locator("h1").inner_text())
    assert serious_violations(page) == []
    screenshot(page, "thank-you-ru")
