"""What a browser on an article page does, over real HTTP on loopback: load the script,
ask for the markup, send the CORS preflight, then Continue; each answer as the browser
reads it (headers included), with the gateway's real HTTP to the fake Stripe behind."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.embed.conftest import ARTICLE, ARTICLE_ORIGIN
from tests.fake_stripe import FakeStripe


@pytest.fixture
def served(embed_app: Flask, reader: Any) -> Iterator[str]:
    """The embedding app on a free loopback port, for this test only."""
    server = make_server("127.0.0.1", 0, embed_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def fetch(url: str, method: str = "GET", body: Any = None, **headers: str) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.headers, response.read()


def test_an_article_page_loads_the_footer_and_continues_to_checkout(
    served: str, stripe: FakeStripe
) -> None:
    status, headers, script = fetch(f"{served}/embed/footer.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert len(gzip.compress(script)) < 10 * 1024

    status, headers, markup = fetch(
        f"{served}/embed/footer/fragment?lang=en&frequency=annual", Origin=ARTICLE_ORIGIN
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert b'id="mf-frequency-annual" value="annual" checked' in markup

    status, headers, _ = fetch(
        f"{served}/embed/checkout",
        method="OPTIONS",
        Origin=ARTICLE_ORIGIN,
        **{
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    assert stripe.calls("POST", "/v1/checkout/sessions") == []  # a preflight opens nothing

    body = {"frequency": "annual", "currency": "GBP", "amount_annual": "50", "source": ARTICLE}
    status, headers, answer = fetch(
        f"{served}/embed/checkout", method="POST", body=body, Origin=ARTICLE_ORIGIN
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ARTICLE_ORIGIN
    [call] = stripe.calls("POST", "/v1/checkout/sessions")
    price = call.params["line_items"][0]["price_data"]
    assert (price["currency"], price["unit_amount"], price["recurring"]) == (
        "gbp",
        "5000",
        {"interval": "year"},
    )
    session = next(iter(stripe.sessions.values()))
    assert json.loads(answer) == {"status": "ok", "url": session["url"]}
