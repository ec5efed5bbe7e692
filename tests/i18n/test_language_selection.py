"""Which language a reader is served in: ``lang`` first, then Accept-Language, then the
default; kept through links; English for staff; chosen by hand for emails in a worker."""

from __future__ import annotations

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from membership import create_app
from membership.config import ConfigError
from membership.i18n import current_language, force_locale, gettext, language_for
from tests.conftest import app_environ


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/support", {}, "en"),
        ("/support?lang=ru", {}, "ru"),
        ("/support?lang=RU-ru", {}, "ru"),
        ("/support", {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"}, "ru"),
        ("/support", {"Accept-Language": "de-DE,de;q=0.9"}, "en"),
        ("/support?lang=en", {"Accept-Language": "ru"}, "en"),
        ("/support?lang=de", {"Accept-Language": "ru"}, "ru"),
        ("/support?lang=", {"Accept-Language": "ru"}, "ru"),
    ],
    ids=[
        "default",
        "lang-param",
        "lang-param-any-case-and-region",
        "accept-language",
        "unsupported-accept-language",
        "lang-beats-accept-language",
        "unsupported-lang-falls-back",
        "empty-lang-falls-back",
    ],
)
def test_language_is_lang_then_accept_language_then_default(
    app: Flask, path: str, headers: dict[str, str], expected: str
) -> None:
    with app.test_request_context(path, headers=headers):
        assert current_language() == expected


def test_a_form_field_or_json_body_names_the_language(app: Flask) -> None:
    with app.test_request_context("/remind-me", method="POST", data={"lang": "ru"}):
        assert current_language() == "ru"
    with app.test_request_context("/newsletter", method="POST", json={"lang": "ru"}):
        assert current_language() == "ru"
    with app.test_request_context("/newsletter", method="POST", json=["not", "an", "object"]):
        assert current_language() == "en"


def test_the_page_says_its_language(client: FlaskClient) -> None:
    page = client.get("/support?lang=ru").get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Перейти к содержанию" in page
    page = client.get("/support", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Skip to content" in page


def test_links_keep_a_language_asked_for_by_name(app: Flask) -> None:
    with app.test_request_context("/support?lang=ru"):
        assert url_for("support.support") == "/support?lang=ru"
        assert url_for("static", filename="site.css") == "/static/site.css"
        assert "lang" not in url_for("staff.login")
        assert "lang=en" in url_for("support.support", lang="en")
    with app.test_request_context("/support", headers={"Accept-Language": "ru"}):
        assert url_for("support.support") == "/support"


@pytest.mark.parametrize("path", ["/staff/login", "/staff/no-such-page"])
def test_staff_pages_stay_english(client: FlaskClient, path: str) -> None:
    page = client.get(f"{path}?lang=ru", headers={"Accept-Language": "ru"})
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_an_email_is_rendered_in_the_stored_language_outside_a_request(app: Flask) -> None:
    with app.app_context():
        assert current_language() == "en"
        with force_locale("ru"):
            assert current_language() == "ru"
            assert gettext("Skip to content") == "Перейти к содержанию"
            rendered = app.jinja_env.from_string('{{ _("Skip to content") }}').render()
            assert rendered == "Перейти к содержанию"
        with force_locale(None):
            assert gettext("Skip to content") == "Skip to content"
        with force_locale("xx"):
            assert current_language() == "en"
        assert gettext("Skip to content") == "Skip to content"


def test_language_for_names_only_languages_served(app: Flask) -> None:
    with app.app_context():
        assert [language_for(tag) for tag in ("ru", "ru-RU", "ru_RU", " EN ")] == [
            "ru",
            "ru",
            "ru",
            "en",
        ]
        assert [language_for(tag) for tag in ("de", "", None, 7, "r")] == [None] * 5


def test_a_language_without_a_catalogue_stops_the_app(database_url: str) -> None:
    with pytest.raises(ConfigError, match="SUPPORTED_LANGUAGES lists de"):
        create_app(app_environ(database_url, SUPPORTED_LANGUAGES="en,de"))
    with pytest.raises(ConfigError, match="language tags"):
        create_app(app_environ(database_url, SUPPORTED_LANGUAGES="en,russian!"))


def test_the_first_supported_language_is_the_default(database_url: str) -> None:
    app = create_app(app_environ(database_url, SUPPORTED_LANGUAGES="ru,en"))
    with app.test_request_context("/support"):
        assert current_language() == "ru"


def test_caches_are_told_a_page_depends_on_accept_language(client: FlaskClient) -> None:
    assert "Accept-Language" in client.get("/support").vary
    assert "Accept-Language" not in client.get("/support?lang=ru").vary
    assert "Accept-Language" not in client.get("/staff/login").vary
    assert "Accept-Language" not in client.get("/static/site.css").vary
    assert "Accept-Language" in client.post("/remind-me", json={}).vary


def test_requests_sharing_an_app_context_each_choose_their_own_language(
    app: Flask, client: FlaskClient
) -> None:
    """Flask-Babel keeps its choice in ``g``, which requests share with an app context
    already open (a test's, a worker's): each request must still choose afresh."""
    with app.app_context():
        pages = [
            client.get("/support", headers={"Accept-Language": language}).get_data(as_text=True)
            for language in ("ru", "en", "ru")
        ]
    assert ['<html lang="ru">' in pages[0], '<html lang="en">' in pages[1]] == [True, True]
    assert '<html lang="ru">' in pages[2]


@pytest.mark.parametrize("query", ["lang=ru", "%6Cang=ru", "source=x&lang=ru"])
def test_lang_is_read_however_the_query_writes_it(client: FlaskClient, query: str) -> None:
    page = client.get(f"/support?{query}", headers={"Accept-Language": "en"})
    assert '<html lang="ru">' in page.get_data(as_text=True)
