"""Colour contrast as WCAG 2 defines it: the check that keeps text and controls readable.

The accent colour is set by the newsroom; it carries white text on buttons and draws the
borders of the controls a reader uses, so the app refuses a colour that would make them
unreadable rather than find out from a reader.
"""

from __future__ import annotations

import re

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# WCAG 2.1: 4.5:1 for body text (1.4.3), 3:1 for the edges of controls (1.4.11).
TEXT_CONTRAST = 4.5
CONTROL_CONTRAST = 3.0


def is_hex_colour(value: str) -> bool:
    """True for a colour written ``#rrggbb``."""
    return bool(_HEX_COLOUR.match(value))


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of a ``#rrggbb`` colour, 0 (black) to 1 (white)."""
    if not is_hex_colour(colour):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """The contrast ratio of two ``#rrggbb`` colours, from 1 (same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
