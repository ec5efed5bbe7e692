"""Each notice is written in its supporter's language (the default language otherwise):
subject, text, dates; the receipt text and amounts as the newsroom wrote them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from membership import i18n, money
from membership.extensions import db
from membership.ledger.models import CheckoutAttempt
from membership.notices import sender
from tests.notices.conftest import EVENT_TIME, squeeze, text_of
from tests.reminders.conftest import SmtpSink
from tests.stripe_events import checkout_session, invoice

READER = "reader@example.org"


@pytest.fixture
def speaks(monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], None]:
    """The language the supporter gave in."""

    def set_language(language: str | None) -> None:
        monkeypatch.setattr(sender, "language_of", lambda supporter_id: language)

    return set_language


def test_a_russian_speaking_supporter_gets_a_russian_receipt(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    speaks: Callable[[str | None], None],
) -> None:
    speaks("ru")
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=2500, customer="cus_ru", payment_intent="pi_ru"),
    )
    assert send().sent == 1
    (message,) = smtp.messages_to(READER)
    text = squeeze(text_of(message))
    assert message["Subject"] == "Спасибо! Квитанция от Our newsroom"
    with app.app_context(), i18n.force_locale("ru"):
        amount = money.format_money(2500, "USD")  # as the app writes amounts in Russian
    assert squeeze(f"Сумма: {amount}") in text
    assert "21 сентября 2026" in text
    assert "Thank you" not in text


def test_a_failed_payment_in_russian(
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    speaks: Callable[[str | None], None],
) -> None:
    speaks("ru")
    post(
        "invoice.payment_failed",
        invoice(
            invoice_id="in_ru", subscription="sub_ru", customer="cus_ru", amount=700, status="open"
        ),
    )
    send()
    (message,) = smtp.messages_to(READER)
    assert "Обновить карту" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Не удалось списать" in message["Subject"]


def test_the_language_is_the_one_the_supporter_gave_in(
    app: Flask, post: Callable[..., Any], send: Callable[[], Any], smtp: SmtpSink
) -> None:
    """The checkout attempt keeps the language of the pages the reader gave through; the
    latest one that recorded a language wins."""
    with app.app_context():
        for attempt_id, language, created in (
            ("a" * 32, "en", EVENT_TIME - timedelta(days=30)),
            ("b" * 32, "ru", EVENT_TIME - timedelta(minutes=5)),
            ("c" * 32, None, EVENT_TIME - timedelta(minutes=1)),
        ):
            db.session.add(
                CheckoutAttempt(
                    id=attempt_id,
                    frequency="once",
                    amount_minor=2500,
                    currency="USD",
                    stripe_session_id=f"cs_test_{attempt_id}",
                    language=language,
                    created_at=created,
                )
            )
        db.session.commit()
    for attempt_id in ("a" * 32, "b" * 32, "c" * 32):
        post(
            "checkout.session.completed",
            checkout_session(
                mode="payment",
                amount=2500,
                customer="cus_lang",
                payment_intent=f"pi_{attempt_id[0]}",
                attempt_id=attempt_id,
                frequency="once",
            ),
        )
    assert send().sent == 3
    assert {m["Subject"] for m in smtp.messages_to(READER)} == {
        "Спасибо! Квитанция от Our newsroom"
    }


@pytest.mark.parametrize("language", [None, "xx"], ids=["unknown", "not-served"])
def test_otherwise_the_default_language(
    app: Flask,
    post: Callable[..., Any],
    send: Callable[[], Any],
    smtp: SmtpSink,
    speaks: Callable[[str | None], None],
    language: str | None,
) -> None:
    speaks(language)
    post(
        "checkout.session.completed",
        checkout_session(mode="payment", amount=2500, customer="cus_en", payment_intent="pi_en"),
    )
    send()
    (message,) = smtp.messages_to(READER)
    assert message["Subject"] == "Thank you: your receipt from Our newsroom"
