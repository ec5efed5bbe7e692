"""The gateway's HTTP: one pooled ``urllib3`` client, kept-alive connections, the library's
retries on connection failures, a proxy read once."""

from __future__ import annotations

import json
import socket

import pytest
import stripe
import urllib3

from membership import stripe_gateway
from membership.config import load_settings
from tests.conftest import app_environ
from tests.fake_stripe import FakeStripeServer


def test_calls_reach_stripe_and_reuse_one_kept_alive_connection() -> None:
    client = stripe_gateway._PooledHTTPClient(proxy=None)
    with FakeStripeServer() as fake:
        url = f"{fake.base_url}/v1/checkout/sessions/cs_test_missing"
        auth = {"Authorization": "Bearer sk_test_x"}
        answers = [client.request("get", url, auth) for _ in range(3)]
        pool = client._pool.connection_from_url(url)
    body, status, headers = answers[-1]
    assert status == 404
    assert json.loads(body)["error"]["code"] == "resource_missing"
    assert headers["content-type"] == headers["Content-Type"]  # read case-insensitively
    assert [r.headers["Authorization"] for r in fake.requests] == ["Bearer sk_test_x"] * 3
    assert pool.num_connections == 1  # three calls, one connection


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_one_the_library_may_retry() -> None:
    client = stripe_gateway._PooledHTTPClient(proxy=None)
    with pytest.raises(stripe.APIConnectionError) as refused:
        client.request("post", f"http://127.0.0.1:{_closed_port()}/v1/checkout/sessions", {})
    assert refused.value.should_retry is True


def test_the_gateway_reports_stripe_unreachable_as_its_own_error(database_url: str) -> None:
    settings = load_settings(
        app_environ(
            database_url,
            STRIPE_SECRET_KEY="sk_test_unreachable",
            STRIPE_API_BASE=f"http://127.0.0.1:{_closed_port()}",
        )
    )
    request = stripe_gateway.CheckoutRequest(
        attempt_id="a" * 32,
        frequency="once",
        amount_minor=1000,
        currency="EUR",
        email=None,
        success_url="https://news.example/thanks",
        cancel_url="https://news.example/support",
    )
    with pytest.raises(stripe_gateway.GatewayError):
        stripe_gateway.create_checkout_session(settings, request)


def test_a_proxy_the_machine_names_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert stripe_gateway._proxy_from_environment() == "http://proxy.internal:3128"
    client = stripe_gateway._PooledHTTPClient(stripe_gateway._proxy_from_environment())
    assert isinstance(client._pool, urllib3.ProxyManager)
    assert client._pool.proxy is not None and client._pool.proxy.host == "proxy.internal"
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert stripe_gateway._proxy_from_environment() is None
