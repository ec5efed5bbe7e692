"""Money is integer minor units; parsing and formatting never go through floats."""

import pytest

from membership import money


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("5", "USD", 500),
        ("5.5", "USD", 550),
        ("5.50", "USD", 550),
        (" 1,000.25 ", "EUR", 100025),
        ("500", "JPY", 500),
        ("500.0", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("0.29", "USD", 29),
        ("19.99", "GBP", 1999),
    ],
)
def test_parse_amount_gives_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert money.parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "USD", "as a number"),
        ("abc", "USD", "as a number"),
        ("-5", "USD", "as a number"),
        ("1e3", "USD", "as a number"),
        ("NaN", "USD", "as a number"),
        ("5.", "USD", "as a number"),
        ("0", "USD", "greater than zero"),
        ("0.00", "USD", "greater than zero"),
        ("5.001", "USD", "at most 2 decimal places"),
        ("500.5", "JPY", "whole numbers"),
        ("1" * 100_000, "USD", "too large"),
    ],
)
def test_parse_amount_rejects_with_a_reason(text: str, currency: str, message: str) -> None:
    with pytest.raises(money.InvalidAmount, match=message):
        money.parse_amount(text, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (500, "USD", "$5.00"),
        (123456, "EUR", "€1,234.56"),
        (500, "JPY", "¥500"),
        (1250, "CHF", "12.50 CHF"),
        (-250, "GBP", "-£2.50"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_format_money(minor: int, currency: str, shown: str) -> None:
    assert money.format_money(minor, currency) == shown


def test_format_plain_round_trips_through_parse() -> None:
    for minor, currency in [(550, "USD"), (500, "USD"), (7, "USD"), (300, "JPY"), (1001, "KWD")]:
        assert money.parse_amount(money.format_plain(minor, currency), currency) == minor
