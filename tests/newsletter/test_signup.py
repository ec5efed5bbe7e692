"""Sign-up: 202 "check your inbox", the consent record stored, bad input a 400 storing nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from membership.config import ConfigError
from membership.extensions import db
from membership.newsletter import service
from membership.newsletter import settings as newsletter_settings_module
from membership.newsletter.models import Subscriber
from membership.newsletter.settings import NewsletterSettings
from tests.newsletter.conftest import (
    PRIVACY_URL,
    a_new_client_address,
    csrf_of,
    sign_up,
    sign_up_by_form,
)


def stored() -> list[Subscriber]:
    db.session.rollback()
    return list(db.session.scalars(select(Subscriber)))


def test_a_sign_up_is_accepted_and_stores_the_consent_record(
    client: FlaskClient, app_ctx: None, newsletter_settings: NewsletterSettings
) -> None:
    response = sign_up(
        client,
        " Reader@Example.org ",
        lang="es",
        source="https://news.example.org/u/reader%40example.org/story?email=reader@example.org",
    )
    assert response.status_code == 202
    assert response.get_json()["status"] == "accepted"
    assert "Check your inbox" in response.get_json()["message"]
    (row,) = stored()
    assert (row.email, row.language, row.status) == ("reader@example.org", "es", "pending")
    assert row.source == "https://news.example.org/u/story"  # the page, no identifiers
    assert row.consent_wording == service.consent_wording(newsletter_settings)
    assert "The Free Ledger" in row.consent_wording and PRIVACY_URL in row.consent_wording
    assert row.consent_privacy_url == PRIVACY_URL
    assert row.consented_at is not None and row.confirmed_at is None
    # No link exists until the email is sent; the email is queued, not sent by the request.
    assert row.confirm_token_hash is None and row.unsubscribe_token_hash is None
    assert (row.mail_status, row.mail_attempts) == ("queued", 0)


def test_the_form_signs_up_too_and_answers_202(
    client: FlaskClient, app_ctx: None, newsletter_settings: NewsletterSettings
) -> None:
    page = client.get("/newsletter?source=https://news.example.org/a").get_data(as_text=True)
    assert service.consent_wording(newsletter_settings).split(" How")[0] in page
    response = sign_up_by_form(client, source="https://news.example.org/a")
    assert response.status_code == 202
    assert "Check your inbox" in response.get_data(as_text=True)
    (row,) = stored()
    assert (row.email, row.language, row.source) == (
        "reader@example.org",
        "en",
        "https://news.example.org/a",
    )


def test_without_a_privacy_policy_url_none_is_recorded(client: FlaskClient, app_ctx: None) -> None:
    assert sign_up(client).status_code == 202
    (row,) = stored()
    assert row.consent_privacy_url is None
    assert row.consent_wording == service.consent_wording(NewsletterSettings())


def test_the_consent_wording_a_widget_must_show_is_served(
    client: FlaskClient, newsletter_settings: NewsletterSettings
) -> None:
    body = client.get("/newsletter/consent").get_json()
    assert body == {
        "wording": service.consent_wording(newsletter_settings),
        "privacy_policy_url": PRIVACY_URL,
        "languages": ["en", "es"],
    }


BAD_JSON: list[Any] = [
    pytest.param({"email": "reader@example.org"}, "consent", id="no-consent"),
    pytest.param({"email": "reader@example.org", "consent": False}, "consent", id="consent-false"),
    pytest.param({"email": "reader@example.org", "consent": "no"}, "consent", id="consent-no"),
    pytest.param({"email": "reader@example.org", "consent": 0}, "consent", id="consent-0"),
    pytest.param({"consent": True}, "email", id="no-email"),
    pytest.param({"email": "not-an-address", "consent": True}, "email", id="bad-email"),
    pytest.param({"email": "a" * 250 + "@x.org", "consent": True}, "email", id="long-email"),
    pytest.param({"email": ["a@b.org"], "consent": True}, "email", id="email-list"),
    pytest.param(
        {"email": "reader@example.org", "consent": True, "lang": "xx"}, "lang", id="lang-unknown"
    ),
    pytest.param(
        {"email": "reader@example.org", "consent": True, "lang": "e" * 40}, "lang", id="lang-long"
    ),
]


@pytest.mark.parametrize(("body", "field"), BAD_JSON)
def test_bad_json_is_a_clear_400_and_stores_nothing(
    client: FlaskClient, app_ctx: None, body: dict[str, Any], field: str
) -> None:
    response = client.post("/newsletter", json=body, environ_base=a_new_client_address())
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["status"] == "invalid" and field in answer["errors"]
    assert answer["message"]
    assert stored() == []


@pytest.mark.parametrize("body", ["[]", '"x"', "not json"], ids=["list", "string", "malformed"])
def test_a_body_that_is_not_a_json_object_is_400(
    client: FlaskClient, app_ctx: None, body: str
) -> None:
    response = client.post(
        "/newsletter",
        data=body,
        content_type="application/json",
        environ_base=a_new_client_address(),
    )
    assert response.status_code == 400
    assert stored() == []


def test_a_form_without_the_box_ticked_is_400_and_says_why(
    client: FlaskClient, app_ctx: None
) -> None:
    data = {"csrf_token": csrf_of(client), "email": "reader@example.org"}
    response = client.post("/newsletter", data=data, environ_base=a_new_client_address())
    assert response.status_code == 400
    assert "Tick the box" in response.get_data(as_text=True)
    assert stored() == []


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient, app_ctx: None) -> None:
    data = {"email": "reader@example.org", "consent": "yes"}
    response = client.post("/newsletter", data=data, environ_base=a_new_client_address())
    assert response.status_code == 400
    assert stored() == []


def test_the_per_address_limit_answers_429(client: FlaskClient, app_ctx: None) -> None:
    """The client's own address is limited (10 a minute by default): it names no reader."""
    here = {"REMOTE_ADDR": "192.0.2.7"}
    answers = [
        client.post(
            "/newsletter",
            json={"email": f"r{n}@example.org", "consent": True},
            environ_base=here,
        ).status_code
        for n in range(11)
    ]
    assert answers == [202] * 10 + [429]
    assert len(stored()) == 10


def test_the_publication_and_its_privacy_policy_are_the_identitys(app: Flask) -> None:
    """One name and one privacy policy on every page, email and consent record, from the
    environment the app was created with."""
    original = app.extensions["membership.settings"]
    identity = dataclasses.replace(
        original.identity, privacy_policy_url="https://x.example/privacy", publication_name="X"
    )
    app.extensions["membership.settings"] = dataclasses.replace(original, identity=identity)
    try:
        loaded = newsletter_settings_module.load(app)
    finally:
        app.extensions["membership.settings"] = original
    assert loaded.privacy_policy_url == "https://x.example/privacy"
    assert loaded.publication_name == "X"


def test_the_languages_offered_are_the_readers_unless_the_newsroom_narrows_them(
    app: Flask,
) -> None:
    assert newsletter_settings_module.load(app).languages == ("en", "ru")
    app.config["NEWSLETTER_LANGUAGES"] = "ru"
    try:
        assert newsletter_settings_module.load(app).languages == ("ru",)
    finally:
        app.config.pop("NEWSLETTER_LANGUAGES")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSLETTER_LANGUAGES", "en,English"),
        ("NEWSLETTER_SIGNUP_LIMIT_PER_EMAIL", "lots"),
    ],
)
def test_a_malformed_setting_stops_the_app_with_a_sentence(
    app: Flask, name: str, value: str
) -> None:
    app.config[name] = value
    try:
        with pytest.raises(ConfigError, match=name.split("_")[0]):
            newsletter_settings_module.load(app)
    finally:
        app.config.pop(name)


def test_nothing_is_stored_for_an_address_twice(client: FlaskClient, app_ctx: None) -> None:
    for _ in range(3):
        assert sign_up(client).status_code == 202
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
