"""Fixtures for the article footer: an app whose ``CORS_ALLOWED_ORIGINS`` names one article
origin, on the suite's migrated database and fake Stripe, and the requests a browser on
that article page (or in the footer's iframe) makes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership import create_app
from membership.extensions import limiter
from tests.conftest import app_environ
from tests.fake_stripe import FakeStripe
from tests.stripe_events import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET

ARTICLE_ORIGIN = "https://news.example.org"
OTHER_ARTICLE_ORIGIN = "https://blog.news.example.org"
OWN_ORIGIN = "http://support.test"  # PUBLIC_BASE_URL of every test app
ARTICLE = f"{ARTICLE_ORIGIN}/2026/12/budget-story"


@pytest.fixture(scope="session")
def embed_app(app: Flask, database_url: str, fake_stripe_server: FakeStripe) -> Iterator[Flask]:
    """The app as a newsroom runs it with article pages on two origins of its own."""
    embedding = create_app(
        app_environ(
            database_url,
            CORS_ALLOWED_ORIGINS=f"{ARTICLE_ORIGIN}, {OTHER_ARTICLE_ORIGIN}",
            STRIPE_SECRET_KEY="sk_test_fake",
            STRIPE_API_BASE=fake_stripe_server.base_url,
            STRIPE_WEBHOOK_SECRET=f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
        )
    )
    yield embedding
    limiter.init_app(app)  # the limiter is one object: give its store back to the suite's app


@pytest.fixture
def reader(embed_app: Flask) -> FlaskClient:
    """A browser's requests to the embedding app, with fresh rate limits (one store for
    every app: the suite's ``reset_rate_limits`` empties it after each test)."""
    with embed_app.app_context():
        limiter.reset()
    return embed_app.test_client()


@pytest.fixture
def checkout_limit(embed_app: Flask) -> Iterator[Callable[[str], None]]:
    """``checkout_limit("2 per minute")``: CHECKOUT_LIMIT_PER_IP for this test."""
    configured = embed_app.extensions["membership.settings"]

    def set_limit(limit: str) -> None:
        embed_app.extensions["membership.settings"] = dataclasses.replace(
            configured, checkout_limit_per_ip=limit
        )

    yield set_limit
    embed_app.extensions["membership.settings"] = configured


def from_article(origin: str = ARTICLE_ORIGIN) -> dict[str, str]:
    """The headers footer.js's fetch() carries from an article page."""
    return {"Origin": origin}


def continue_json(client: FlaskClient, origin: str | None = ARTICLE_ORIGIN, **body: Any) -> Any:
    """footer.js's Continue: the footer's form fields as JSON, cross-origin."""
    fields = {"frequency": "monthly", "currency": "USD", "amount_monthly": "5", "source": ARTICLE}
    headers = {"Origin": origin} if origin else {}
    return client.post("/embed/checkout", json={**fields, **body}, headers=headers)


@dataclasses.dataclass
class Form:
    """A form as a browser without JavaScript would submit it."""

    action: str
    method: str
    target: str | None
    fields: dict[str, str]  # checked radios and boxes, hidden and text inputs
    radios: dict[str, list[str]]  # every option of every radio group


@dataclasses.dataclass
class Page:
    forms: dict[str, Form]  # by id
    links: dict[str, tuple[str, str | None]]  # by id: (href, target)
    scripts: int
    inline_styles: int


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page({}, {}, 0, 0)
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if "style" in attr or tag == "style":
            self.page.inline_styles += 1
        if tag == "script":
            self.page.scripts += 1
        elif tag == "form":
            self._form = Form(
                attr.get("action", ""), attr.get("method", "get"), attr.get("target"), {}, {}
            )
            self.page.forms[attr.get("id", "")] = self._form
        elif tag == "a" and "id" in attr:
            self.page.links[attr["id"]] = (attr.get("href", ""), attr.get("target"))
        elif tag == "input" and self._form is not None:
            name, kind = attr.get("name", ""), attr.get("type", "text")
            if kind == "radio":
                self._form.radios.setdefault(name, []).append(attr.get("value", ""))
            if kind not in ("radio", "checkbox") or "checked" in attr:
                self._form.fields[name] = attr.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def read_page(html: str) -> Page:
    """The forms, links and scripts of a page, as a browser would see them."""
    reader = _Reader()
    reader.feed(html)
    return reader.page
