"""The browser tests' own checks can fail: axe-core reports a serious violation when there
is one, and Tab gives up on a control no keyboard can reach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.axe import serious_violations
from tests.browser.keyboard import tab_to

PAGE = """<!doctype html><html lang="en"><head><title>Checks</title></head><body><main>
<h1>Checks</h1><input id="unlabelled"><div id="not-focusable" onclick="void 0">Click</div>
<button id="reachable">Reachable</button></main></body></html>"""


@pytest.fixture
def blank_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_content(PAGE)
    yield page
    context.close()


def test_axe_reports_an_unlabelled_field(blank_page: Any) -> None:
    (violation,) = serious_violations(blank_page)
    assert violation.startswith("critical label:") and "#unlabelled" in violation


def test_tab_reaches_a_button_and_not_a_clickable_div(blank_page: Any) -> None:
    tab_to(blank_page, "#reachable")
    with pytest.raises(AssertionError, match="cannot be reached with Tab"):
        tab_to(blank_page, "#not-focusable")
