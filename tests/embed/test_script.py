"""``GET /embed/footer.js`` and the markup it asks for: one small script that talks to
this app alone, and a footer with every part the article's footer has."""

from __future__ import annotations

import gzip
import re

import pytest
from flask.testing import FlaskClient

from membership.newsletter import service as newsletter
from membership.newsletter import settings as newsletter_settings
from tests.embed.conftest import ARTICLE_ORIGIN, OWN_ORIGIN, read_page

GZIP_BUDGET = 10 * 1024


def test_the_script_is_javascript_that_names_this_app(reader: FlaskClient) -> None:
    response = reader.get("/embed/footer.js")
    script = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert f'var BASE = "{OWN_ORIGIN}";' in script
    assert "[data-membership-footer]" in script
    # Cacheable by the article's readers and any CDN: the same for everyone.
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers


def test_the_script_is_under_ten_kilobytes_compressed(reader: FlaskClient) -> None:
    body = reader.get("/embed/footer.js").get_data()
    assert len(gzip.compress(body, compresslevel=9)) < GZIP_BUDGET


def test_the_script_talks_to_no_one_but_this_app(reader: FlaskClient) -> None:
    """No third-party request: every address it names is this app's, and it loads nothing
    else (no import, no other script, no font or analytics)."""
    script = reader.get("/embed/footer.js").get_data(as_text=True)
    addresses = set(re.findall(r"https?://[^\s\"'<>)]+", script))
    assert addresses and all(address.startswith(OWN_ORIGIN) for address in addresses)
    assert "import(" not in script and 'createElement("script")' not in script
    for path in (
        "/api/prompt",
        "/embed/footer/fragment",
        "/embed/checkout",
        "/remind-me",
        "/remind-me/snooze",
        "/newsletter",
    ):
        assert f'"{path}' in script, path


def test_the_script_asks_whether_to_show_before_it_shows_anything(reader: FlaskClient) -> None:
    script = reader.get("/embed/footer.js").get_data(as_text=True)
    asks = script.index('request("/api/prompt"')
    assert asks < script.index('"/embed/footer/fragment?')
    # ... with the browser's cookie, where "gave" and "not now" are kept.
    assert 'credentials: "include"' in script[asks : asks + 80]


def test_the_fragment_is_readable_by_article_pages_only(reader: FlaskClient) -> None:
    allowed = reader.get("/embed/footer/fragment", headers={"Origin": ARTICLE_ORIGIN})
    refused = reader.get("/embed/footer/fragment", headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Origin" in allowed.headers["Vary"] and "Cookie" not in allowed.headers["Vary"]


def test_the_fragment_has_every_part_of_the_footer(reader: FlaskClient) -> None:
    html = reader.get("/embed/footer/fragment").get_data(as_text=True)
    page = read_page(html)
    checkout = page.forms["mf-checkout"]

    assert 'class="mf-title"' in html and "Dear readers," in html  # the appeal
    assert "starting from just $2." in html
    assert checkout.action == f"{OWN_ORIGIN}/embed/checkout"  # absolute: it is on the article
    assert checkout.radios["frequency"] == ["once", "monthly", "annual"]
    assert checkout.fields["frequency"] == "monthly"  # monthly first
    assert checkout.radios["amount_monthly"] == ["2", "5", "10"]
    assert checkout.radios["amount_annual"] == ["25", "50", "100"]
    assert checkout.radios["amount_once"] == ["10", "25", "50"]
    assert "custom_amount" in checkout.fields
    assert 'id="mf-continue"' in html
    assert 'class="mf-methods"' in html and 'alt="Visa"' in html  # the payment methods
    assert f'src="{OWN_ORIGIN}/static/payment-methods/visa.svg"' in html
    assert "Not ready to support today?" in html and 'id="mf-remind-toggle"' in html
    assert page.forms["mf-remind"].radios["when"] == ["1w", "1m", "3m"]
    assert 'id="mf-not-now"' in html
    assert "Sign up for our free newsletter" in html
    assert set(page.forms["mf-newsletter-form"].fields) >= {"email", "lang"}
    assert f'href="{OWN_ORIGIN}/embed/footer.css' in html
    assert "<script" not in html  # the script that asked for it wires it


def test_the_newsletter_consent_is_shown_word_for_word(reader: FlaskClient) -> None:
    """The sign-up records this wording as what the reader agreed to."""
    html = reader.get("/embed/footer/fragment").get_data(as_text=True)
    with reader.application.app_context():
        wording = newsletter.consent_wording(newsletter_settings.current())
    assert f'<label for="mf-newsletter-consent">{wording}</label>' in html


@pytest.mark.parametrize(
    ("query", "frequency", "preset", "group"),
    [
        ("frequency=annual&amount=100", "annual", "100", "amount_annual"),
        ("frequency=once&amount=50", "once", "50", "amount_once"),
        ("frequency=monthly&amount=10", "monthly", "10", "amount_monthly"),
        ("frequency=weekly&amount=10", "monthly", "10", "amount_monthly"),
        ("amount=-3", "monthly", "5", "amount_monthly"),
    ],
    ids=["annual", "once", "monthly", "unknown-frequency", "unknown-amount"],
)
def test_the_article_preselects_frequency_and_amount(
    reader: FlaskClient, query: str, frequency: str, preset: str, group: str
) -> None:
    """``data-frequency`` and ``data-amount``; anything unknown falls back quietly."""
    html = reader.get(f"/embed/footer/fragment?{query}").get_data(as_text=True)
    checkout = read_page(html).forms["mf-checkout"]
    assert checkout.fields["frequency"] == frequency
    assert checkout.fields[group] == preset


def test_an_amount_between_presets_is_typed_in_for_the_reader(reader: FlaskClient) -> None:
    html = reader.get("/embed/footer/fragment?frequency=annual&amount=60").get_data(as_text=True)
    checkout = read_page(html).forms["mf-checkout"]
    assert checkout.fields["custom_amount"] == "60"
    assert checkout.fields["frequency"] == "annual"
    assert "amount_annual" not in checkout.fields  # no preset chosen besides


def test_the_footer_is_in_the_language_the_article_asks_for(reader: FlaskClient) -> None:
    russian = reader.get("/embed/footer/fragment?lang=ru").get_data(as_text=True)
    english_page = reader.get("/embed/footer/fragment?lang=en").get_data(as_text=True)
    page = read_page(russian)

    assert 'lang="ru"' in russian and 'lang="en"' in english_page
    assert page.forms["mf-checkout"].fields["lang"] == "ru"
    for english in ("Continue", "Remind me later", "Not now", "How often", "Sign me up"):
        assert english in english_page and english not in russian, english


def test_the_style_sheet_carries_the_publications_accent(reader: FlaskClient) -> None:
    response = reader.get("/embed/footer.css")
    assert response.mimetype == "text/css"
    assert "var(--mf-accent, #0b5cad)" in response.get_data(as_text=True)
    assert "Cookie" not in response.headers.get("Vary", "")


def test_the_article_may_ask_for_another_of_the_accepted_currencies(reader: FlaskClient) -> None:
    euros = read_page(reader.get("/embed/footer/fragment?currency=eur").get_data(as_text=True))
    unknown = read_page(reader.get("/embed/footer/fragment?currency=XXX").get_data(as_text=True))
    assert euros.forms["mf-checkout"].fields["currency"] == "EUR"
    assert unknown.forms["mf-checkout"].fields["currency"] == "USD"  # the first, quietly
