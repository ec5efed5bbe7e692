"""``GET /embed/footer``: the footer as a page the article origins alone may frame, which
works with JavaScript off: its forms and links lead the reader's whole window on."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.extensions import db
from membership.models import CheckoutAttempt
from membership.web.security_headers import CONTENT_SECURITY_POLICY
from tests.embed.conftest import (
    ARTICLE,
    ARTICLE_ORIGIN,
    OTHER_ARTICLE_ORIGIN,
    OWN_ORIGIN,
    Form,
    read_page,
)
from tests.fake_stripe import FakeStripe


def framed(client: FlaskClient, **query: str) -> tuple[Any, str]:
    response = client.get("/embed/footer", query_string={"source": ARTICLE, **query})
    return response, response.get_data(as_text=True)


def submit(client: FlaskClient, form: Form, origin: str = OWN_ORIGIN, **choices: str) -> Any:
    """Submit ``form`` as a browser does from the framed page: its checked and typed
    fields, what the reader changed, and the page's own origin."""
    return client.post(form.action, data={**form.fields, **choices}, headers={"Origin": origin})


def test_the_article_origins_may_frame_the_footer_and_nobody_else(reader: FlaskClient) -> None:
    response, _ = framed(reader)
    policy = response.headers["Content-Security-Policy"]

    assert response.status_code == 200
    assert f"frame-ancestors {ARTICLE_ORIGIN} {OTHER_ARTICLE_ORIGIN}" in policy
    assert "'none'" not in policy.split("frame-ancestors")[1]
    assert "X-Frame-Options" not in response.headers  # DENY would forbid them too
    # The rest of the policy is every page's: its own files only.
    assert policy.replace(f"{ARTICLE_ORIGIN} {OTHER_ARTICLE_ORIGIN}", "'none'") == (
        CONTENT_SECURITY_POLICY
    )


def test_without_article_origins_nobody_may_frame_it(client: FlaskClient) -> None:
    response = client.get("/embed/footer")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/support",
        "/remind-me",
        "/newsletter",
        "/embed/footer.js",
        "/embed/footer/fragment",
        "/embed/footer.css",
        "/staff/login",
        "/nowhere",
    ],
)
def test_every_other_page_stays_unframable(reader: FlaskClient, path: str) -> None:
    headers = reader.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_a_refused_continue_stays_unframable(reader: FlaskClient) -> None:
    response = reader.post("/embed/checkout", data={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_framed_page_needs_no_script_and_loads_only_its_own_files(reader: FlaskClient) -> None:
    _, html = framed(reader)
    page = read_page(html)
    assert page.scripts == 0 and page.inline_styles == 0
    assert '<link rel="stylesheet" href="/embed/footer.css' in html
    assert "<h1" in html  # a page of its own: its heading starts the outline


def test_continue_without_javascript_goes_straight_to_checkout(
    embed_app: Flask, reader: FlaskClient, stripe: FakeStripe
) -> None:
    _, html = framed(reader, lang="en")
    form = read_page(html).forms["mf-checkout"]
    assert (form.method, form.target) == ("post", "_top")  # the whole window goes on

    response = submit(reader, form, frequency="annual", amount_annual="100")

    assert response.status_code == 303
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    with embed_app.app_context():
        attempt = db.session.scalars(select(CheckoutAttempt)).one()
        assert response.location == stripe.sessions[attempt.stripe_session_id]["url"]
        assert (attempt.frequency, attempt.amount_minor, attempt.currency) == (
            "annual",
            10000,
            "USD",
        )
        assert attempt.source == ARTICLE
    price = call.params["line_items"][0]["price_data"]
    assert price["recurring"] == {"interval": "year"} and price["unit_amount"] == "10000"


def test_the_preselected_gift_goes_through_as_it_stands(
    embed_app: Flask, reader: FlaskClient, stripe: FakeStripe
) -> None:
    """The reader only presses Continue: the article's preselection is the gift."""
    _, html = framed(reader, frequency="once", amount="50")
    response = submit(reader, read_page(html).forms["mf-checkout"])
    assert response.status_code == 303
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "payment"
    assert call.params["line_items"][0]["price_data"]["unit_amount"] == "5000"


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", None], ids=["other-site", "null", "none"]
)
def test_a_form_from_another_site_is_refused_with_a_reason(
    reader: FlaskClient, stripe: FakeStripe, origin: str | None
) -> None:
    _, html = framed(reader)
    form = read_page(html).forms["mf-checkout"]
    headers = {"Origin": origin} if origin else {}
    response = reader.post(form.action, data=form.fields, headers=headers)

    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "article pages only" in text or "does not say which page" in text
    assert stripe.calls("POST", "/v1/checkout/sessions") == []


def test_a_browser_without_origin_is_known_by_the_framed_pages_referrer(
    reader: FlaskClient, stripe: FakeStripe
) -> None:
    _, html = framed(reader)
    form = read_page(html).forms["mf-checkout"]
    response = reader.post(
        form.action, data=form.fields, headers={"Referer": f"{OWN_ORIGIN}/embed/footer?lang=en"}
    )
    assert response.status_code == 303


def test_a_choice_that_cannot_go_on_comes_back_with_why_and_stores_nothing(
    embed_app: Flask, reader: FlaskClient, stripe: FakeStripe
) -> None:
    _, html = framed(reader)
    form = read_page(html).forms["mf-checkout"]
    response = submit(reader, form, custom_amount="1")

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "The smallest amount is $2" in text
    again = read_page(text).forms["mf-checkout"]
    assert again.fields["custom_amount"] == "1"  # what the reader typed, to correct
    assert 'aria-invalid="true"' in text and 'role="alert"' in text
    assert stripe.calls("POST", "/v1/checkout/sessions") == []
    with embed_app.app_context():
        assert db.session.scalars(select(CheckoutAttempt)).all() == []


def test_remind_me_later_leads_to_its_page_with_the_gift(reader: FlaskClient) -> None:
    _, html = framed(reader, frequency="annual", amount="50", lang="en")
    href, target = read_page(html).links["mf-remind-link"]
    assert target == "_top"
    query = parse_qs(urlsplit(href).query)
    assert urlsplit(href).path == "/remind-me"
    assert query == {
        "frequency": ["annual"],
        "amount": ["50"],
        "currency": ["USD"],
        "source": [ARTICLE],
        "lang": ["en"],
    }
    page = reader.get(href)
    assert page.status_code == 200
    assert 'value="annual"' in page.get_data(as_text=True)


def test_the_newsletter_leads_to_its_page_from_this_article(reader: FlaskClient) -> None:
    _, html = framed(reader, lang="en")
    href, target = read_page(html).links["mf-newsletter-link"]
    assert target == "_top"
    assert urlsplit(href).path == "/newsletter"
    assert parse_qs(urlsplit(href).query)["source"] == [ARTICLE]
    page = reader.get(href)
    assert page.status_code == 200
    assert f'value="{ARTICLE}"' in page.get_data(as_text=True)


def test_the_framed_footer_keeps_its_language_through_its_form(reader: FlaskClient) -> None:
    _, html = framed(reader, lang="ru")
    page = read_page(html)
    assert '<html lang="ru">' in html
    assert "Continue" not in html and "Remind me later" not in html
    assert page.forms["mf-checkout"].fields["lang"] == "ru"
    assert parse_qs(urlsplit(page.links["mf-remind-link"][0]).query)["lang"] == ["ru"]


@pytest.mark.parametrize("path", ["/embed/footer", "/embed/footer/fragment"])
def test_readers_whose_cards_stripe_cannot_take_find_other_ways_to_give(
    reader: FlaskClient, path: str
) -> None:
    html = reader.get(path, query_string={"lang": "ru"}).get_data(as_text=True)
    href, target = read_page(html).links["mf-other-ways"]
    assert urlsplit(href).path == "/support/other-ways"
    assert parse_qs(urlsplit(href).query)["lang"] == ["ru"]
    assert target == ("_top" if path == "/embed/footer" else None)
    assert reader.get(href).status_code == 200


def test_the_framed_footer_in_russian_opens_checkout_in_russian(
    reader: FlaskClient, stripe: FakeStripe
) -> None:
    _, html = framed(reader, lang="ru")
    response = submit(reader, read_page(html).forms["mf-checkout"])
    assert response.status_code == 303
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["locale"] == "ru"
