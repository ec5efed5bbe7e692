"""Every response says what the browser may load, frame and send on."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from membership import create_app
from tests.conftest import PRODUCTION_ENVIRON


@pytest.mark.parametrize("path", ["/support", "/staff/login", "/remind-me", "/nowhere"])
def test_pages_refuse_framing_foreign_content_and_referrers(client: FlaskClient, path: str) -> None:
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy and "base-uri 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    # Stripe Checkout and any linked site learn nothing of the page a reader was on.
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # not in development and tests


def test_the_support_page_loads_nothing_the_policy_refuses(client: FlaskClient) -> None:
    """No inline script or style: the page would break under its own policy."""
    page = client.get("/support").get_data(as_text=True)
    assert "<script>" not in page and "style=" not in page and "<style" not in page
    assert '<script src="/static/support.js"' in page


def test_production_asks_for_https_only() -> None:
    app = create_app(PRODUCTION_ENVIRON)
    response = app.test_client().get("/staff/login", base_url="https://support.example.org")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
