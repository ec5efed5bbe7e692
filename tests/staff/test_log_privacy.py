"""Personal data never reaches the request log, over real HTTP."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request

import pytest
from werkzeug.serving import make_server


def test_the_request_log_drops_query_strings(app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="werkzeug")
    server = make_server("127.0.0.1", 0, app, threaded=True)  # shutdown never waits on a request
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/staff/supporters?q=reader%40example.org"
        with urllib.request.urlopen(url, timeout=10) as response:  # sent on to sign in
            assert response.status == 200
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/staff/supporters?[query removed]" in logged
    assert "reader" not in logged and "example.org" not in logged


def test_the_request_log_drops_a_cancel_links_token(app, caplog: pytest.LogCaptureFixture) -> None:
    """Whoever holds the token can cancel the reminder: it is a secret, not a path."""
    caplog.set_level(logging.INFO, logger="werkzeug")
    token = "Zk3" + "a" * 40
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/remind-me/cancel/{token}?utm=x"
        try:
            urllib.request.urlopen(url, timeout=10).close()
        except urllib.error.HTTPError as unknown:  # no such reminder: 404, logged all the same
            assert unknown.code == 404
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/remind-me/cancel/[token removed]" in logged
    assert token not in logged and "utm" not in logged
