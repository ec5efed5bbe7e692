"""Amounts read and written as the reader's language writes them (Babel's CLDR data)."""

from __future__ import annotations

import pytest
from flask import Flask

from membership import money
from membership.i18n import force_locale
from membership.support.service import whole_or_exact


@pytest.mark.parametrize(
    ("minor", "currency", "english", "russian"),
    [
        (200, "USD", "$2.00", "2,00\xa0$"),
        (100000, "RUB", "1,000.00 RUB", "1\xa0000,00\xa0₽"),
        (123456, "EUR", "€1,234.56", "1\xa0234,56\xa0€"),
        (500, "JPY", "¥500", "500\xa0¥"),
        (-250, "GBP", "-£2.50", "-2,50\xa0£"),
    ],
)
def test_amounts_are_written_in_the_readers_language(
    app: Flask, minor: int, currency: str, english: str, russian: str
) -> None:
    assert money.format_money(minor, currency, "en") == english
    assert money.format_money(minor, currency, "ru") == russian
    with app.app_context(), force_locale("ru"):
        assert money.format_money(minor, currency) == russian
        assert money.format_money(minor, currency, "en") == english


@pytest.mark.parametrize(
    ("typed", "english", "russian"),
    [
        ("10", 1000, 1000),
        ("10.50", 1050, 1050),
        ("10,50", 105000, 1050),
        ("1 000", 100000, 100000),
        ("1\xa0000", 100000, 100000),
        ("1,000", 100000, 100),
        ("1.000,50", None, 100050),
    ],
)
def test_amounts_are_read_as_the_reader_writes_them(
    typed: str, english: int | None, russian: int
) -> None:
    if english is None:
        with pytest.raises(money.InvalidAmount):
            money.parse_amount(typed, "USD", "en")
    else:
        assert money.parse_amount(typed, "USD", "en") == english
    assert money.parse_amount(typed, "USD", "ru") == russian


def test_a_bad_amount_is_explained_in_the_readers_language(app: Flask) -> None:
    with app.app_context(), force_locale("ru"), pytest.raises(money.InvalidAmount) as error:
        money.parse_amount("десять", "USD")
    assert str(error.value) == "Введите сумму числом, например 10 или 10,50."


@pytest.mark.parametrize(
    ("minor", "currency", "english", "russian"),
    [
        (200, "USD", "$2", "2\xa0$"),
        (100000, "RUB", "1,000 RUB", "1\xa0000\xa0₽"),
        (250, "EUR", "€2.50", "2,50\xa0€"),
        (3000, "JPY", "¥3,000", "3\xa0000\xa0¥"),
    ],
)
def test_presets_drop_zero_decimals_in_either_language(
    app: Flask, minor: int, currency: str, english: str, russian: str
) -> None:
    with app.app_context():
        assert whole_or_exact(minor, currency) == english
        with force_locale("ru"):
            assert whole_or_exact(minor, currency) == russian
