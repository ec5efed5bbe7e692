"""``publication`` in every template, pages and emails alike, and the logo this app serves."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template_string

from membership import create_app
from membership.identity import payment_methods, publication
from tests.conftest import app_environ

LOGO = b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>"


def _branded_app(database_url: str, tmp_path: Path) -> Flask:
    (tmp_path / "logo.svg").write_bytes(LOGO)
    return create_app(
        app_environ(
            database_url,
            PUBLICATION_NAME="The Free Ledger",
            PUBLICATION_SITE_URL="https://ledger.example",
            PRIVACY_POLICY_URL="https://ledger.example/privacy",
            TERMS_URL="https://ledger.example/terms",
            PUBLICATION_LOGO=str(tmp_path / "logo.svg"),
            ACCENT_COLOUR="#8a1538",
            PAYMENT_METHODS="visa,paypal",
        )
    )


def test_an_email_rendered_outside_any_request_knows_the_publication(
    database_url: str, tmp_path: Path
) -> None:
    app = _branded_app(database_url, tmp_path)
    with app.app_context():  # as a worker sends reminders: no request
        text = render_template_string(
            "{{ publication.name }}|{{ publication.site_url }}|{{ publication.privacy_policy_url }}"
            "|{{ publication.terms_url }}|{{ publication.logo_absolute_url }}"
            "|{{ publication.accent_colour }}"
        )
    assert text == (
        "The Free Ledger|https://ledger.example|https://ledger.example/privacy"
        "|https://ledger.example/terms|http://support.test/publication/logo.svg|#8a1538"
    )


def test_the_logo_is_served_by_this_app_and_may_run_nothing(
    database_url: str, tmp_path: Path
) -> None:
    client = _branded_app(database_url, tmp_path).test_client()
    response = client.get("/publication/logo.svg")
    assert response.status_code == 200
    assert response.data == LOGO
    assert response.mimetype == "image/svg+xml"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get("/publication/logo.png").status_code == 404


def test_without_a_logo_there_is_no_logo_url_and_no_logo_page(app: Flask) -> None:
    with app.app_context():
        assert publication().logo_url is None
    assert app.test_client().get("/publication/logo.svg").status_code == 404


def test_payment_methods_follow_the_setting_with_icons_from_this_app(
    database_url: str, tmp_path: Path, project_root: Path
) -> None:
    app = _branded_app(database_url, tmp_path)
    with app.test_request_context("/support"):
        methods = payment_methods()
    assert methods == [
        ("Visa", "/static/payment-methods/visa.svg"),
        ("PayPal", "/static/payment-methods/paypal.svg"),
    ]


def test_every_payment_method_has_its_icon(project_root: Path) -> None:
    from membership.identity.settings import PAYMENT_METHOD_LABELS

    missing = [
        code
        for code in PAYMENT_METHOD_LABELS
        if not (project_root / "static" / "payment-methods" / f"{code}.svg").is_file()
    ]
    assert missing == []


def test_the_masthead_shows_the_logo_beside_the_name(database_url: str, tmp_path: Path) -> None:
    page = _branded_app(database_url, tmp_path).test_client().get("/support")
    assert (
        '<a class="brand" href="https://ledger.example"><img src="/publication/logo.svg" alt=""'
        ' height="40"><span>The Free Ledger</span></a>'
    ) in page.get_data(as_text=True)
