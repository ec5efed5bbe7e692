"""The newsroom on its pages: the appeal, what a gift means, where to go next, how to pay."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership import create_app
from tests.conftest import app_environ, post_checkout
from tests.fake_stripe import FakeStripe

BRANDED = {
    "PUBLICATION_NAME": "The Free Ledger",
    "PUBLICATION_SITE_URL": "https://ledger.example",
    "PRIVACY_POLICY_URL": "https://ledger.example/privacy",
    "TERMS_URL": "https://ledger.example/terms",
    "ACCENT_COLOUR": "#8a1538",
    "PAYMENT_METHODS": "visa,mastercard,paypal,sepa_debit",
    "STRIPE_PAYMENT_METHOD_CONFIGURATION": "pmc_1FreeLedger",
}


@pytest.fixture
def branded(database_url: str, fake_stripe_server: FakeStripe) -> Flask:
    """The suite's app as a newsroom configures it (same database, same fake Stripe)."""
    return create_app(
        app_environ(
            database_url,
            STRIPE_SECRET_KEY="sk_test_fake",
            STRIPE_API_BASE=fake_stripe_server.base_url,
            **BRANDED,
        )
    )


@pytest.fixture
def page(branded: Flask) -> Iterator[str]:
    yield branded.test_client().get("/support?frequency=monthly&amount=5").get_data(as_text=True)


def test_support_opens_with_the_publication_and_its_appeal(page: str) -> None:
    assert '<a class="brand" href="https://ledger.example"><span>The Free Ledger</span></a>' in page
    assert "<title>Support us · The Free Ledger</title>" in page
    assert '<h1 id="appeal-headline">Dear readers,</h1>' in page
    assert "The Free Ledger is free for everyone" in page
    assert '<p class="signature">The editors of The Free Ledger</p>' in page


@pytest.mark.parametrize(
    ("frequency", "says"),
    [
        ("monthly", "A monthly gift is taken every month until you stop it. Cancel anytime"),
        ("annual", "An annual gift is taken once a year until you stop it. Cancel anytime"),
        ("once", "A one-time gift is taken once. Nothing more is charged."),
    ],
)
def test_support_says_what_each_gift_means(client: FlaskClient, frequency: str, says: str) -> None:
    page = client.get(f"/support?frequency={frequency}").get_data(as_text=True)
    assert says in page
    assert ("Cancel anytime" in page) is (frequency != "once")


def test_support_links_the_privacy_policy_and_terms(page: str) -> None:
    assert 'href="https://ledger.example/privacy">Our privacy policy</a>' in page
    assert 'href="https://ledger.example/privacy">Privacy policy</a>' in page  # the footer
    assert 'href="https://ledger.example/terms">Terms</a>' in page


def test_remind_me_later_is_offered_for_the_gift_on_the_page(client: FlaskClient) -> None:
    page = client.get(
        "/support?frequency=annual&amount=50&currency=EUR&source=https%3A%2F%2Fnews.example%2Fa"
    ).get_data(as_text=True)
    assert "Not ready to support today?" in page
    link = re.search(r'<a id="remind-later" href="([^"]+)">Remind me later.</a>', page)
    assert link, "no Remind me later link"
    assert link.group(1) == (
        "/remind-me?frequency=annual&amp;currency=EUR&amp;amount=50"
        "&amp;source=https://news.example/a"
    )
    assert client.get(link.group(1).replace("&amp;", "&")).status_code == 200


def test_the_payment_methods_row_shows_the_setting_with_icons_from_this_app(page: str) -> None:
    row = re.search(r'<ul class="payment-methods" aria-label="Ways to pay">(.*?)</ul>', page, re.S)
    assert row, "no payment methods row"
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', row.group(1))
    assert images == [
        ("/static/payment-methods/visa.svg", "Visa"),
        ("/static/payment-methods/mastercard.svg", "Mastercard"),
        ("/static/payment-methods/paypal.svg", "PayPal"),
        ("/static/payment-methods/sepa_debit.svg", "SEPA Direct Debit"),
    ]


def test_the_support_page_asks_no_other_site_for_anything(page: str) -> None:
    """No request leaves for a third party: every src and style sheet is this app's."""
    loaded = re.findall(r'<(?:img|script)[^>]* src="([^"]+)"', page)
    loaded += re.findall(r'<link[^>]* href="([^"]+)"', page)
    assert loaded and all(address.startswith("/") for address in loaded), loaded


def test_every_icon_of_the_row_is_served(branded: Flask, page: str, project_root: Path) -> None:
    client = branded.test_client()
    for icon in re.findall(r'src="(/static/payment-methods/[^"]+)"', page):
        response = client.get(icon)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        response.close()


def test_checkout_uses_the_payment_method_configuration(branded: Flask, stripe: FakeStripe) -> None:
    response = post_checkout(branded.test_client(), frequency="monthly", currency="USD", amount="5")
    assert response.status_code == 303
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["payment_method_configuration"] == "pmc_1FreeLedger"


def test_without_a_configuration_checkout_leaves_stripe_to_choose(
    client: FlaskClient, stripe: FakeStripe
) -> None:
    post_checkout(client, frequency="monthly", currency="USD", amount="5")
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert "payment_method_configuration" not in call.params


def test_other_ways_to_give_is_linked_and_has_the_newsrooms_text(
    branded: Flask, page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert '<a href="/support/other-ways">Cannot pay by card? Other ways to give</a>' in page
    client = branded.test_client()
    default = client.get("/support/other-ways").get_data(as_text=True)
    assert "<h1>Other ways to give</h1>" in default and "Bank transfer" in default
    monkeypatch.setattr(branded, "instance_path", str(tmp_path))
    (tmp_path / "other-ways.en.md").write_text("**IBAN** DE00 1234\n\n<script>x</script>")
    page = client.get("/support/other-ways").get_data(as_text=True)
    assert "<p><strong>IBAN</strong> DE00 1234</p>" in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_the_accent_colour_reaches_the_pages_as_a_style_sheet(branded: Flask, page: str) -> None:
    assert '<link rel="stylesheet" href="/publication/accent.css">' in page
    css = branded.test_client().get("/publication/accent.css")
    assert css.mimetype == "text/css"
    assert css.get_data(as_text=True) == ":root { --accent: #8a1538; }\n"


def test_the_appeal_is_the_newsrooms_file_when_there_is_one(
    branded: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(branded, "instance_path", str(tmp_path))
    (tmp_path / "appeal.en.md").write_text(
        "# Readers, friends\n\nWe need *you*.\n\n--\nAnna, editor"
    )
    page = branded.test_client().get("/support?frequency=once").get_data(as_text=True)
    assert '<h1 id="appeal-headline">Readers, friends</h1>' in page
    assert "<p>We need <em>you</em>.</p>" in page
    assert '<p class="signature">Anna, editor</p>' in page


def test_the_thank_you_page_is_signed_and_leads_back_to_the_newsroom(
    branded: Flask, stripe: FakeStripe
) -> None:
    client = branded.test_client()
    post_checkout(client, frequency="monthly", currency="USD", amount="5")
    [session_id] = list(stripe.sessions)
    stripe.complete_session(session_id)
    page = client.get(f"/support/thank-you?session_id={session_id}").get_data(as_text=True)
    assert "Thank you for your monthly support of $5." in page
    assert '<p class="signature">The editors of The Free Ledger</p>' in page
    assert '<a href="https://ledger.example">Back to The Free Ledger</a>' in page


def test_staff_pages_carry_the_publication_in_their_header(branded: Flask) -> None:
    page = branded.test_client().get("/staff/login").get_data(as_text=True)
    assert re.search(
        r'<header class="masthead">\s*<a class="brand" href="/staff/">'
        r'<span>The Free Ledger</span> <span class="masthead-area">Staff</span></a>',
        page,
    )
    assert "· Staff · The Free Ledger</title>" in page


def test_the_appeal_speaks_the_readers_language_even_from_the_page_cache(
    client: FlaskClient,
) -> None:
    """Accept-Language changes the page without changing its query: both are cached apart."""
    for _ in range(2):
        russian = client.get("/support", headers={"Accept-Language": "ru"}).get_data(as_text=True)
        english = client.get("/support", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert '<h1 id="appeal-headline">Дорогие читатели!</h1>' in russian
        assert '<h1 id="appeal-headline">Dear readers,</h1>' in english
    assert "Редакция Our newsroom" in client.get("/support?lang=ru").get_data(as_text=True)
