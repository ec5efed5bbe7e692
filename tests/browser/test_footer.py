"""The article footer in a real browser, on an article page of another origin: with one
script tag, a reader chooses Annual and an amount and Continue lands on (the fake) Stripe
Checkout with those terms; asks to be reminded and subscribes inline; after a gift the
footer stays hidden; all of it by keyboard alone. With one iframe and JavaScript off,
Continue still reaches Checkout; another origin may not frame it. No serious
accessibility violation; screenshots at 390 and 1280 px. In Russian:
``test_in_russian.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from membership import clock
from tests.browser.axe import serious_violations
from tests.browser.checks import (
    FOOTER,
    checkout_attempts,
    checkout_terms,
    link_in_mail,
    open_article,
    reminders_for,
    send_confirmations,
    subscriber,
)
from tests.browser.conftest import WIDTHS, Site
from tests.browser.keyboard import focused_matches, tab_to


def test_annual_and_an_amount_continue_straight_to_checkout(page: Any, fresh_site: Site) -> None:
    open_article(page, fresh_site)
    assert page.url.startswith(fresh_site.article_origin)
    page.locator('label[for="mf-frequency-annual"]').click()
    page.locator("#mf-custom-amount").fill("40")
    page.locator("#mf-continue").click()
    terms = checkout_terms(page)
    assert terms["mode"] == "subscription"
    assert (terms["interval"], terms["amount"], terms["currency"]) == ("year", "4000", "usd")
    (attempt,) = checkout_attempts(fresh_site)
    assert attempt.source == f"{fresh_site.article_origin}/articles/budget-story"


def test_a_preset_of_the_chosen_frequency_is_what_checkout_gets(
    page: Any, fresh_site: Site
) -> None:
    open_article(page, fresh_site, frequency="monthly")
    page.locator('#mf-amounts-monthly input[type="radio"]').last.check()
    chosen = page.locator('#mf-amounts-monthly input[type="radio"]').last.get_attribute("value")
    page.locator("#mf-continue").click()
    terms = checkout_terms(page)
    assert terms["interval"] == "month"
    assert int(terms["amount"]) == round(float(chosen or "0") * 100)


def test_remind_me_later_confirms_inline_and_the_reminder_exists(
    page: Any, fresh_site: Site
) -> None:
    open_article(page, fresh_site, frequency="annual")
    page.locator("#mf-remind-toggle").click()
    page.locator("#mf-remind-email").fill("footer-later@example.org")
    page.locator("#mf-remind-submit").click()
    status = page.locator("#mf-remind-status")
    status.filter(has_text=re.compile(r"remind", re.I)).wait_for()
    assert page.url.startswith(fresh_site.article_origin)  # no page in between
    (reminder,) = reminders_for(fresh_site, "footer-later@example.org")
    assert reminder.frequency == "annual"
    assert reminder.source == f"{fresh_site.article_origin}/articles/budget-story"
    assert reminder.due_at - clock.now() > timedelta(days=6)


def test_the_newsletter_sign_up_in_the_footer_confirms(page: Any, fresh_site: Site) -> None:
    open_article(page, fresh_site)
    page.locator("#mf-newsletter-email").fill("footer-news@example.org")
    page.locator("#mf-newsletter-consent").check()
    page.locator("#mf-newsletter-submit").click()
    page.locator("#mf-newsletter-status").filter(has_text=re.compile("inbox", re.I)).wait_for()
    send_confirmations(fresh_site)
    page.goto(link_in_mail(fresh_site, "footer-news@example.org", "confirm"))
    confirmed = subscriber(fresh_site, "footer-news@example.org")
    assert confirmed is not None and confirmed.status == "confirmed"
    assert confirmed.source == f"{fresh_site.article_origin}/articles/budget-story"


def test_after_a_gift_the_footer_stays_hidden(page: Any, fresh_site: Site) -> None:
    open_article(page, fresh_site)
    page.locator("#mf-continue").click()
    checkout_terms(page)
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/support/thank-you"))
    page.goto(fresh_site.article("script"))
    host = page.locator("[data-membership-footer]")
    page.wait_for_function(
        "() => document.querySelector('[data-membership-footer]').hidden === true"
    )
    assert host.is_hidden()
    assert page.locator(FOOTER).count() == 0


def test_not_now_hides_the_footer_on_the_next_article(page: Any, fresh_site: Site) -> None:
    open_article(page, fresh_site)
    page.locator("#mf-not-now").click()
    page.locator(".mf-snoozed").wait_for()
    page.goto(fresh_site.article("script"))
    page.wait_for_function(
        "() => document.querySelector('[data-membership-footer]').hidden === true"
    )
    assert page.locator(FOOTER).count() == 0


def test_a_keyboard_alone_gives_asks_to_be_reminded_and_subscribes(
    page: Any, fresh_site: Site
) -> None:
    """Tab to each control, Space or Enter to use it; only the emails and amount typed."""
    open_article(page, fresh_site, frequency="annual")
    tab_to(page, "#mf-remind-toggle")
    page.keyboard.press("Enter")
    assert focused_matches(page, "#mf-remind-email")  # the form opens where the reader is
    page.keyboard.type("keys-later@example.org")
    tab_to(page, "#mf-remind-submit")
    page.keyboard.press("Enter")
    page.locator("#mf-remind-status").filter(has_text=re.compile("remind", re.I)).wait_for()
    assert len(reminders_for(fresh_site, "keys-later@example.org")) == 1

    tab_to(page, "#mf-newsletter-email")
    page.keyboard.type("keys-footer@example.org")
    tab_to(page, "#mf-newsletter-consent")
    page.keyboard.press("Space")
    tab_to(page, "#mf-newsletter-submit")
    page.keyboard.press("Enter")
    page.locator("#mf-newsletter-status").filter(has_text=re.compile("inbox", re.I)).wait_for()
    assert subscriber(fresh_site, "keys-footer@example.org") is not None

    page.goto(fresh_site.article("script", frequency="annual"))
    page.locator(FOOTER).wait_for()
    tab_to(page, "#mf-custom-amount")
    page.keyboard.type("30")
    tab_to(page, "#mf-continue")
    page.keyboard.press("Enter")
    terms = checkout_terms(page)
    assert (terms["interval"], terms["amount"]) == ("year", "3000")


def test_arrow_keys_choose_annual_and_a_preset_as_in_any_radio_group(
    page: Any, fresh_site: Site
) -> None:
    """A keyboard reader moves within Once / Monthly / Annual and within the presets with
    the arrow keys, as in every radio group, and Tab leaves each group for the next."""
    open_article(page, fresh_site)
    tab_to(page, '#mf-frequency input[type="radio"]:checked')
    for _ in range(3):
        if focused_matches(page, "#mf-frequency-annual"):
            break
        page.keyboard.press("ArrowRight")
    assert focused_matches(page, "#mf-frequency-annual:checked")
    tab_to(page, "#mf-amounts-annual input[type=radio]:checked")
    page.keyboard.press("ArrowRight")  # the next preset
    chosen = page.locator("#mf-amounts-annual input[type=radio]:checked").get_attribute("value")
    assert focused_matches(page, f'#mf-amounts-annual input[value="{chosen}"]')
    tab_to(page, "#mf-continue")
    page.keyboard.press("Enter")
    terms = checkout_terms(page)
    assert (terms["interval"], terms["amount"]) == ("year", str(round(float(chosen or 0) * 100)))


def test_the_script_footer_has_no_serious_accessibility_violation(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    open_article(page, fresh_site)
    assert serious_violations(page) == []
    page.locator("#mf-remind-toggle").click()
    assert serious_violations(page) == []  # with the reminder form open
    for width in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": 900})
        assert serious_violations(page) == [], width
    screenshot(page, "footer-script")


def test_the_iframe_footer_works_with_javascript_off(
    page_without_javascript: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page = page_without_javascript
    page.goto(fresh_site.article("iframe"))
    frame = page.frame_locator("iframe")
    frame.locator(FOOTER).wait_for()
    screenshot(page, "footer-iframe")
    frame.locator('label[for="mf-frequency-annual"]').click()
    frame.locator("#mf-custom-amount").fill("45")
    frame.locator("#mf-continue").click()
    terms = checkout_terms(page)  # the whole window went to Checkout, not the frame
    assert (terms["interval"], terms["amount"]) == ("year", "4500")
    (attempt,) = checkout_attempts(fresh_site)
    assert attempt.source == f"{fresh_site.article_origin}/articles/budget-story"


def test_a_keyboard_alone_gives_through_the_iframe_footer(
    page_without_javascript: Any, fresh_site: Site
) -> None:
    page = page_without_javascript
    page.goto(fresh_site.article("iframe", frequency="annual"))
    page.frame_locator("iframe").locator(FOOTER).wait_for()
    frame = page.frames[1]
    tab_to(page, "#mf-custom-amount", frame=frame)
    page.keyboard.type("35")
    tab_to(page, "#mf-continue", frame=frame)
    page.keyboard.press("Enter")
    terms = checkout_terms(page)
    assert (terms["interval"], terms["amount"]) == ("year", "3500")


def test_the_iframe_footer_links_to_remind_me_and_the_newsletter_in_the_window(
    page_without_javascript: Any, fresh_site: Site
) -> None:
    page = page_without_javascript
    page.goto(fresh_site.article("iframe", frequency="annual"))
    frame = page.frame_locator("iframe")
    frame.locator("#mf-remind-link").click()
    page.wait_for_url(re.compile(r"/remind-me\?"))
    assert page.url.startswith(fresh_site.url)
    assert "frequency=annual" in page.url


def test_the_framable_footer_page_has_no_serious_accessibility_violation(
    page: Any, fresh_site: Site, screenshot: Callable[[Any, str], list[Any]]
) -> None:
    page.goto(f"{fresh_site.url}/embed/footer")
    assert serious_violations(page) == []
    screenshot(page, "footer-page")


def test_only_the_article_origins_may_frame_the_footer(page: Any, fresh_site: Site) -> None:
    """The same article page on an origin not in CORS_ALLOWED_ORIGINS: the frame stays
    empty (frame-ancestors), while the allowed origin shows it."""
    other = fresh_site.article("iframe").replace("127.0.0.1", "localhost")
    page.goto(other)
    page.wait_for_load_state("load")
    frame = page.frames[1] if len(page.frames) > 1 else None
    assert frame is None or frame.locator(FOOTER).count() == 0
    page.goto(fresh_site.article("iframe"))
    page.frame_locator("iframe").locator(FOOTER).wait_for()


def test_an_origin_not_allowed_gets_no_script_footer(page: Any, fresh_site: Site) -> None:
    """The same article page on an origin not in CORS_ALLOWED_ORIGINS: the script may load,
    but the app's answers are not for that page to read, so no footer appears."""
    other = fresh_site.article("script").replace("127.0.0.1", "localhost")
    page.goto(other)
    page.wait_for_load_state("networkidle")
    assert page.locator(FOOTER).count() == 0
    open_article(page, fresh_site)  # while the allowed origin gets it
