"""The gateway's HTTP: sessions that read no environment per call, a proxy read once."""

from __future__ import annotations

import pytest

from membership import stripe_gateway


def test_the_clients_sessions_do_not_read_the_environment_on_each_call() -> None:
    session = stripe_gateway._RequestsReadingNoEnvironment().Session()
    assert session.trust_env is False


def test_a_proxy_the_machine_names_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert stripe_gateway._proxy_from_environment() == "http://proxy.internal:3128"
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("https_proxy", raising=False)
    assert stripe_gateway._proxy_from_environment() is None
