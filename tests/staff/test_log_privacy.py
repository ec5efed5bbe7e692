"""Personal data never reaches the request log, over real HTTP."""

from __future__ import annotations

import contextlib
import logging
import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server


def request_log(app, caplog: pytest.LogCaptureFixture, path: str) -> str:
    """What werkzeug's request log says of one GET of ``path``, served over real HTTP."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)  # shutdown never waits on a request
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{path}"
    try:
        # An error answer (a 404 for an unknown token) is logged all the same: the log is read.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=10).close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")


def test_the_request_log_drops_query_strings(app, caplog: pytest.LogCaptureFixture) -> None:
    logged = request_log(app, caplog, "/staff/supporters?q=reader%40example.org")
    assert "/staff/supporters?[query removed]" in logged
    assert "reader" not in logged and "example.org" not in logged


def test_the_request_log_drops_a_cancel_links_token(app, caplog: pytest.LogCaptureFixture) -> None:
    """Whoever holds the token can cancel the reminder: it is a secret, not a path."""
    token = "Zk3" + "a" * 40
    logged = request_log(app, caplog, f"/remind-me/cancel/{token}?utm=x")
    assert "/remind-me/cancel/[token removed]" in logged
    assert token not in logged and "utm" not in logged


@pytest.mark.parametrize(
    "path",
    ["/account/sign-in/", "/newsletter/confirm/", "/newsletter/unsubscribe/"],
    ids=["sign-in", "confirm", "unsubscribe"],
)
def test_the_request_log_drops_every_links_token(
    app, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    """A sign-in link opens an account; a newsletter's links confirm or end a subscription."""
    token = "Qx9" + "b" * 40
    logged = request_log(app, caplog, f"{path}{token}")
    assert f"{path}[token removed]" in logged
    assert token not in logged
