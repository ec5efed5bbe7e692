"""The identity settings: defaults that run, and a sentence for every malformed value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from membership.config import ConfigError, load_settings
from membership.identity.settings import DEFAULT_PAYMENT_METHODS, load_identity
from tests.conftest import PRODUCTION_ENVIRON


def test_defaults_let_production_start_without_any_identity_setting() -> None:
    identity = load_settings(PRODUCTION_ENVIRON).identity
    assert identity.publication_name == "Our newsroom"
    assert identity.accent_colour == "#0b5cad"
    assert identity.payment_methods == DEFAULT_PAYMENT_METHODS
    assert identity.privacy_policy_url is None
    assert identity.logo_path is None
    assert identity.stripe_payment_method_configuration is None


def test_every_setting_is_read(tmp_path: Path) -> None:
    (tmp_path / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    identity = load_identity(
        {
            "PUBLICATION_NAME": "  The   Free Ledger ",
            "PUBLICATION_SITE_URL": "https://ledger.example",
            "PRIVACY_POLICY_URL": "https://ledger.example/privacy",
            "TERMS_URL": "https://ledger.example/terms",
            "PUBLICATION_LOGO": "logo.svg",
            "ACCENT_COLOUR": "#8A1538",
            "PAYMENT_METHODS": "paypal, sepa_debit,visa",
            "STRIPE_PAYMENT_METHOD_CONFIGURATION": "pmc_1NxAbc",
        },
        str(tmp_path),
    )
    assert identity.publication_name == "The Free Ledger"
    assert identity.site_url == "https://ledger.example"
    assert identity.privacy_policy_url == "https://ledger.example/privacy"
    assert identity.terms_url == "https://ledger.example/terms"
    assert identity.logo_path == (tmp_path / "logo.svg").resolve()
    assert identity.accent_colour == "#8a1538"
    assert identity.payment_methods == ("paypal", "sepa_debit", "visa")
    assert identity.stripe_payment_method_configuration == "pmc_1NxAbc"


def test_an_empty_payment_methods_setting_shows_no_row() -> None:
    assert load_identity({"PAYMENT_METHODS": ""}).payment_methods == ()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PUBLICATION_SITE_URL", "news.example.org", "web address"),
        ("PRIVACY_POLICY_URL", "javascript:alert(1)", "web address"),
        ("TERMS_URL", "/terms", "web address"),
        ("ACCENT_COLOUR", "blue", "#rrggbb"),
        ("ACCENT_COLOUR", "#0b5cad80", "#rrggbb"),
        ("ACCENT_COLOUR", "#ffcc00", "too light"),
        ("PAYMENT_METHODS", "visa,bitcoin", "bitcoin"),
        ("STRIPE_PAYMENT_METHOD_CONFIGURATION", "pm_123", "pmc_"),
        ("PUBLICATION_LOGO", "logo.bmp", "image file"),
        ("PUBLICATION_LOGO", "missing.png", "not a file"),
        ("PUBLICATION_NAME", "x" * 121, "120"),
    ],
    ids=[
        "site-without-scheme",
        "privacy-not-http",
        "terms-relative",
        "accent-name",
        "accent-with-alpha",
        "accent-unreadable-under-white-text",
        "unknown-payment-method",
        "not-a-configuration-id",
        "logo-not-an-image",
        "logo-missing",
        "name-too-long",
    ],
)
def test_a_malformed_setting_stops_the_app_with_a_sentence(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        load_settings({**PRODUCTION_ENVIRON, name: value}, instance_path=str(tmp_path))
    assert says in str(raised.value)


def test_production_warns_while_the_publication_has_no_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from membership import create_app

    with caplog.at_level(logging.WARNING, logger="membership.identity"):
        create_app(PRODUCTION_ENVIRON)
        assert "PUBLICATION_NAME is not set" in caplog.text
        caplog.clear()
        create_app({**PRODUCTION_ENVIRON, "PUBLICATION_NAME": "The Free Ledger"})
        assert "PUBLICATION_NAME" not in caplog.text
