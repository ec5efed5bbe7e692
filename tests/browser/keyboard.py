"""Moving through a page as a keyboard-only reader does: Tab, then Space or Enter."""

from __future__ import annotations

from typing import Any

MAX_TABS = 80

# The focused element, looking inside shadow roots (the script footer lives in one).
_FOCUSED_MATCHES = """selector => {
  let focused = document.activeElement;
  while (focused && focused.shadowRoot && focused.shadowRoot.activeElement) {
    focused = focused.shadowRoot.activeElement;
  }
  return !!focused && focused.matches(selector);
}"""


def focused_matches(page: Any, selector: str, *, frame: Any = None) -> bool:
    """Whether the element with the keyboard's focus matches ``selector``."""
    return bool((frame or page).evaluate(_FOCUSED_MATCHES, selector))


def tab_to(page: Any, selector: str, *, frame: Any = None) -> None:
    """Press Tab until the focused element matches ``selector`` (in ``frame`` if given).

    Fails after ``MAX_TABS`` presses: a control a keyboard cannot reach is a bug.
    """
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if focused_matches(page, selector, frame=frame):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")
