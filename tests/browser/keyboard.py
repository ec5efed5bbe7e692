"""Moving through a page as a keyboard-only reader does: Tab, then Space or Enter."""

from __future__ import annotations

from typing import Any

MAX_TABS = 60


def tab_to(page: Any, selector: str, *, frame: Any = None) -> None:
    """Press Tab until the focused element matches ``selector`` (in ``frame`` if given).

    Fails after ``MAX_TABS`` presses: a control a keyboard cannot reach is a bug.
    """
    where = frame or page
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if where.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")
