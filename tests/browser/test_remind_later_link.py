"""/support's "Remind me later" is about the gift chosen now (static/support.js), and
/remind-me names it."""

from __future__ import annotations

import re
from typing import Any

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
