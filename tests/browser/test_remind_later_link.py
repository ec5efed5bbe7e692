"""/support's links out, in a real browser: "Remind me later" is about the gift chosen now
(static/support.js) and /remind-me names it; "Other ways to give" is readable by all."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.axe import serious_violations
from tests.browser.conftest import Site


def test_remind_me_later_follows_the_chosen_gift(page: Any, fresh_site: Site) -> None:
    page.goto(f"{fresh_site.url}/support?frequency=annual")
    remind = page.locator("#remind-later")
    assert remind.get_attribute("href").endswith("amount=50")
    page.get_by_label("$100 a year").check()
    assert remind.get_attribute("href").endswith("amount=100")
    page.get_by_label(re.compile("another amount", re.I)).fill("42.50")
    assert remind.get_attribute("href").endswith("amount=42.50")
    remind.click()
    page.wait_for_url(re.compile(r"/remind-me\?"))
    assert page.locator("#gift-summary").inner_text() == (
        "The gift to remind you of: $42.50 a year."
    )


def test_other_ways_to_give_has_no_serious_accessibility_violation(
    page: Any, fresh_site: Site
) -> None:
    page.goto(f"{fresh_site.url}/support")
    page.get_by_role("link", name="Cannot pay by card? Other ways to give").click()
    page.wait_for_url(re.compile(r"/support/other-ways$"))
    assert "Bank transfer" in page.locator("main").inner_text()
    assert serious_violations(page) == []
