"""What a new reader saw on the pages (issue 16, point 6), each checked so it stays fixed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership.identity.contrast import CONTROL_CONTRAST, contrast_ratio
from membership.identity.settings import DEFAULT_ACCENT
from membership.support.service import whole_or_exact


@pytest.fixture(scope="module")
def site_css() -> str:
    return (Path(__file__).resolve().parents[2] / "static" / "site.css").read_text()


def css_rule(css: str, selector: str) -> dict[str, str]:
    """The declarations for ``selector``: of every rule whose selector list has it, in order."""
    declarations: dict[str, str] = {}
    without_comments = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", without_comments):
        if selector in [s.strip() for s in selectors.split(",")]:
            declarations |= {
                name.strip(): value.strip()
                for name, _, value in (d.partition(":") for d in body.split(";"))
                if value.strip()
            }
    assert declarations, f"site.css has no rule for {selector}"
    return declarations


def colour_of(css: str, value: str) -> str:
    """A border's colour, its var() resolved from :root (--accent: ACCENT_COLOUR's default)."""
    variables = css_rule(css, ":root")
    variables["--accent"] = DEFAULT_ACCENT
    match = re.search(r"#[0-9a-fA-F]{6}\b|var\((--[a-z-]+)\)", value)
    assert match, f"no colour in {value!r}"
    return variables[match.group(1)] if match.group(1) else match.group(0)


def test_visually_hidden_labels_are_hidden_yet_read(client: FlaskClient, site_css: str) -> None:
    page = client.get("/remind-me").get_data(as_text=True)
    assert '<label for="date" class="visually-hidden">Date</label>' in page
    rule = css_rule(site_css, ".visually-hidden")
    assert rule["position"].startswith("absolute")
    assert (rule["width"], rule["height"], rule["overflow"]) == ("1px", "1px", "hidden")
    assert "display" not in rule  # display: none would hide it from screen readers too


def test_the_currency_select_is_as_large_as_the_other_controls(site_css: str) -> None:
    select, field = css_rule(site_css, ".field select"), css_rule(site_css, ".field input")
    assert float(select["min-height"].removesuffix("rem")) >= 2.75  # 44 px, a finger's width
    for name in ("font", "padding", "border"):
        assert select[name] == field[name], name
    assert select["font"] == "inherit"


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (500, "USD", "$5"),
        (550, "USD", "$5.50"),
        (1000000, "USD", "$10,000"),
        (505, "EUR", "€5.05"),
        (1200, "CHF", "12 CHF"),
        (500, "JPY", "¥500"),
        (1500, "KWD", "1.500 KWD"),
    ],
    ids=["whole", "cents", "thousands", "small-cents", "code-after", "no-minor-unit", "3-places"],
)
def test_whole_amounts_are_shown_without_decimals(minor: int, currency: str, shown: str) -> None:
    assert whole_or_exact(minor, currency) == shown


def test_presets_show_no_zero_decimals(client: FlaskClient) -> None:
    page = client.get("/support?frequency=monthly&currency=GBP").get_data(as_text=True)
    assert "<span>£5 a month</span>" in page
    assert ".00" not in page


@pytest.mark.parametrize(
    "selector", [".presets label", ".field input", ".field select", ".tabs a", ".secondary"]
)
def test_control_borders_stand_out_from_the_page(site_css: str, selector: str) -> None:
    """WCAG 1.4.11: the edge of a control needs 3:1 against the white page."""
    rule = css_rule(site_css, selector)
    border = rule.get("border") or rule["border-color"]
    ratio = contrast_ratio(colour_of(site_css, border), "#ffffff")
    assert ratio >= CONTROL_CONTRAST, f"{selector}: {ratio:.2f}:1"


def test_the_favicon_is_served_and_linked(client: FlaskClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/support").get_data(as_text=True)
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert link
    svg = client.get(link.group(1))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    icon.close()
    svg.close()


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("frequency=monthly&amount=5&currency=EUR", "The gift to remind you of: €5 a month."),
        ("frequency=annual&amount=50.5&currency=USD", "The gift to remind you of: $50.50 a year."),
        ("frequency=once&amount=25&currency=GBP", "The gift to remind you of: £25, once."),
        ("frequency=monthly", "The gift to remind you of: a monthly gift."),
        (
            "frequency=monthly&amount=0.01&currency=EUR",
            "The gift to remind you of: a monthly gift.",
        ),
    ],
    ids=["monthly", "annual-cents", "once", "frequency-only", "amount-we-would-not-take"],
)
def test_remind_me_says_which_gift_it_is_about(client: FlaskClient, query: str, says: str) -> None:
    page = client.get(f"/remind-me?{query}").get_data(as_text=True)
    assert f'<p class="gift-summary" id="gift-summary">{says}</p>' in page


def test_remind_me_without_a_gift_names_none(client: FlaskClient, app: Flask) -> None:
    page = client.get("/remind-me?frequency=weekly&amount=lots").get_data(as_text=True)
    assert "gift-summary" not in page
