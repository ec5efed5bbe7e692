"""The script footer's inline forms speak the existing JSON APIs: what footer.js sends
from the footer's fields (``POST /remind-me``, ``POST /newsletter``) is accepted, keeps
the gift and the article, and records the consent wording the footer showed."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from membership.extensions import db
from membership.newsletter.models import Subscriber
from membership.reminders.models import Reminder
from tests.embed.conftest import ARTICLE, ARTICLE_ORIGIN, read_page


def fragment(reader: FlaskClient, query: str = "") -> str:
    return reader.get(f"/embed/footer/fragment?{query}").get_data(as_text=True)


def test_remind_me_later_keeps_the_gift_the_reader_was_looking_at(
    embed_app: Flask, reader: FlaskClient
) -> None:
    page = read_page(fragment(reader, "frequency=annual&amount=100&lang=en"))
    checkout, remind = page.forms["mf-checkout"], page.forms["mf-remind"]
    frequency = checkout.fields["frequency"]
    # What footer.js's remind.submit handler sends (giftOf + the remind form's fields).
    body = {
        "email": "reader@example.org",
        "when": remind.fields["when"],
        "frequency": frequency,
        "amount": checkout.fields[f"amount_{frequency}"],
        "currency": checkout.fields["currency"],
        "source": ARTICLE,
        "lang": checkout.fields["lang"],
    }
    response = reader.post("/remind-me", json=body, headers={"Origin": ARTICLE_ORIGIN})

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", response.get_json()["scheduled_for"])
    with embed_app.app_context():
        reminder = db.session.scalars(select(Reminder)).one()
        assert (reminder.frequency, reminder.amount_minor, reminder.currency) == (
            "annual",
            10000,
            "USD",
        )
        assert reminder.source == ARTICLE


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_newsletter_sign_up_records_the_wording_the_footer_showed(
    embed_app: Flask, reader: FlaskClient, language: str
) -> None:
    shown = fragment(reader, f"lang={language}")
    label = re.search(r'<label for="mf-newsletter-consent">(.*?)</label>', shown, re.S)
    assert label is not None
    form = read_page(shown).forms["mf-newsletter-form"]
    body = {"email": "reader@example.org", "consent": True, "lang": form.fields["lang"]}
    response = reader.post(
        "/newsletter", json={**body, "source": ARTICLE}, headers={"Origin": ARTICLE_ORIGIN}
    )

    assert response.status_code == 202
    with embed_app.app_context():
        subscriber = db.session.scalars(select(Subscriber)).one()
        assert subscriber.consent_wording == html.unescape(label.group(1))
        assert subscriber.source == ARTICLE


def test_not_now_is_the_snooze_the_prompt_then_hides(reader: FlaskClient) -> None:
    """footer.js's "Not now": the snooze, with the cookie the prompt reads next time."""
    snoozed = reader.post(
        "/remind-me/snooze", json={"days": 30}, headers={"Origin": ARTICLE_ORIGIN}
    )
    assert snoozed.status_code == 200
    assert snoozed.headers["Access-Control-Allow-Credentials"] == "true"
    prompt = reader.get("/api/prompt", headers={"Origin": ARTICLE_ORIGIN})
    assert prompt.get_json() == {"show": False}
