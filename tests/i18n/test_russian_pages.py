"""Pages in Russian: what a Russian reader sees has no English left in it, whether a
string was never wrapped for translation or its translation is missing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from membership import create_app
from membership.identity.settings import DEFAULT_NAME
from tests.conftest import app_environ, csrf_token

PUBLICATION = "Новая редакция"
# Latin words a Russian page may carry: names of companies, payment methods, currencies,
# the word "email" (as Russian sites write it), and the publication's address.
_ALLOWED_WORDS = (
    "stripe email usd eur gbp jpy rub visa mastercard amex american express apple google pay "
    "link paypal sepa ideal bancontact klarna maestro discover unionpay jcb diners club "
    # In a choice of languages each is named in its own: "English" beside "Русский".
    "english"
)
ALLOWED = set(_ALLOWED_WORDS.split())
_URL_OR_ADDRESS = re.compile(r"(https?://\S+|\S+@\S+|\S+\.(org|com|test|example)\S*)")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Attributes whose words are read aloud or shown: they need translating as text does.
_READ_ATTRIBUTES = ("alt", "title", "aria-label", "placeholder")


class VisibleText(HTMLParser):
    """The words a reader sees or hears: text outside scripts and styles, and the read
    attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in _READ_ATTRIBUTES and value:
                self.parts.append(value)
            if tag == "input" and name == "value" and value and ("type", "submit") in attrs:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def english_left(html: str) -> list[str]:
    """Each piece of visible text that still holds a Latin word not in ``ALLOWED``."""
    parser = VisibleText()
    parser.feed(html)
    left = []
    for part in parser.parts:
        words = _LATIN_WORD.findall(_URL_OR_ADDRESS.sub(" ", part))
        if any(word.lower() not in ALLOWED for word in words):
            left.append(part)
    return left


@pytest.fixture
def russian_app(app: Flask, database_url: str) -> Iterator[Flask]:
    """The suite's app, with a publication name as a Russian newsroom would set it."""
    settings = {
        "PUBLICATION_NAME": PUBLICATION,
        "PRIVACY_POLICY_URL": "https://news.example.org/privacy",
        "NEWSLETTER_LANGUAGES": "ru,en",
    }
    # The newsletter reads its settings from the Flask config as well (its own reader).
    yield create_app(app_environ(database_url, **settings), **settings)


@pytest.fixture
def reader(russian_app: Flask) -> FlaskClient:
    return russian_app.test_client()


READER_PAGES = [
    "/support",
    "/support?frequency=once",
    "/support?frequency=annual&currency=EUR",
    "/support/other-ways",
    "/support/cancelled",
    "/remind-me",
    "/newsletter",
    "/account",
    "/embed/footer",
    "/no-such-page",
]


@pytest.mark.parametrize("path", READER_PAGES)
def test_a_page_asked_for_in_russian_has_no_english_left(reader: FlaskClient, path: str) -> None:
    separator = "&" if "?" in path else "?"
    response = reader.get(f"{path}{separator}lang=ru")
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 404), path
    assert '<html lang="ru">' in page
    assert english_left(page) == []


@pytest.mark.parametrize("path", ["/support", "/remind-me", "/newsletter", "/account"])
def test_a_russian_browser_gets_russian_pages(reader: FlaskClient, path: str) -> None:
    page = reader.get(path, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert english_left(page.get_data(as_text=True)) == []


def test_form_errors_are_in_russian(reader: FlaskClient) -> None:
    token = csrf_token(reader, "/newsletter?lang=ru")
    form = {"csrf_token": token, "email": "not an address", "lang": "ru"}
    page = reader.post("/newsletter?lang=ru", data=form).get_data(as_text=True)
    assert "Введите корректный адрес электронной почты" in page
    assert english_left(page) == []


def test_the_checker_finds_english(reader: FlaskClient) -> None:
    """The check above would fail on an English page (it is not vacuous)."""
    english = reader.get("/remind-me?lang=en").get_data(as_text=True)
    assert "Remind me" in " ".join(english_left(english))


def test_presets_are_whole_amounts_written_the_russian_way(reader: FlaskClient) -> None:
    page = reader.get("/support?lang=ru&frequency=monthly&currency=EUR").get_data(as_text=True)
    assert "2\xa0€ в месяц" in page
    assert "2,00" not in page


def test_a_supporters_account_page_in_russian(
    signed_in: Callable[[str], FlaskClient],
    make_supporter: Callable[..., int],
    make_gift: Callable[..., int],
    make_recurring: Callable[..., int],
) -> None:
    supporter = make_supporter("reader@example.org", customer="cus_ru")
    make_gift(supporter, 2500, frequency="monthly")
    make_recurring(supporter, "cus_ru", "sub_ru", cancel_at_period_end=True)
    browser = signed_in("reader@example.org")
    page = browser.get("/account?lang=ru").get_data(as_text=True)
    assert "Регулярные пожертвования" in page
    assert "Действует, прекратится в конце этого периода" in page
    assert "25,00\xa0$" in page and "Оплачено" in page
    # The newsroom's own name is its setting, not a string to translate.
    assert english_left(page.replace(DEFAULT_NAME, "")) == ["(JSON)."]


def test_the_footers_json_answers_in_the_language_it_sends(reader: FlaskClient) -> None:
    """The footer posts JSON with its ``lang``: errors and confirmations come back in it."""
    refused = reader.post("/remind-me", json={"email": "not an address", "lang": "ru"})
    assert refused.status_code == 400
    assert refused.get_json()["errors"]["email"].startswith("Введите корректный адрес")
    accepted = reader.post(
        "/newsletter", json={"email": "reader@example.org", "consent": True, "lang": "ru"}
    )
    assert accepted.status_code == 202
    assert accepted.get_json()["message"].startswith("Проверьте почту")
    wording = reader.get("/newsletter/consent?lang=ru").get_json()["wording"]
    assert wording.startswith(f"Да, присылайте мне рассылку {PUBLICATION}.")


def test_signing_up_for_a_newsletter_in_another_language_answers_in_the_readers(
    client: FlaskClient,
) -> None:
    """A Russian reader signs up for the English edition (the form's lang says en) and
    reads the answer in Russian."""
    headers = {"Accept-Language": "ru"}
    page = client.get("/newsletter", headers=headers).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None and action.group(1) == "/newsletter?lang=ru"
    token = csrf_token(client, "/newsletter")
    form = {"csrf_token": token, "email": "reader@example.org", "consent": "yes", "lang": "en"}
    answer = client.post(action.group(1), data=form, headers=headers)
    assert answer.status_code == 202
    assert "Проверьте почту" in answer.get_data(as_text=True)


def test_the_footers_newsletter_answer_follows_the_footer_not_the_list(
    client: FlaskClient,
) -> None:
    """footer.js posts the newsletter's language in the body and the footer's in the query."""
    body = {"email": "reader@example.org", "consent": True, "lang": "en"}
    answer = client.post("/newsletter?lang=ru", json=body)
    assert answer.status_code == 202
    assert answer.get_json()["message"].startswith("Проверьте почту")
