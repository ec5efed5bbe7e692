"""Fixtures for tests in a real browser: the system's Chromium driven by Playwright.

One browser per session. The app is served over real HTTP on a loopback port, with the
suite's fake Stripe (whose Checkout Sessions open a small "Checkout" page the browser can
load) and a real SMTP server; an "article page" is served on a second loopback origin, the
one ``CORS_ALLOWED_ORIGINS`` names, carrying the footer with one script tag or one iframe.

Without Chromium these tests skip with one line saying why, except with ``CI=true``, where
they fail: CI must run them (``.ci/run`` installs Debian's ``chromium``). Screenshots go to
``BROWSER_SCREENSHOTS`` if set, else to a folder under pytest's temporary directory; the
run's summary prints where.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from membership import create_app
from membership.extensions import limiter
from tests.conftest import app_environ
from tests.fake_stripe import FakeStripe
from tests.reminders.conftest import SmtpSink, free_port
from tests.stripe_events import OLD_WEBHOOK_SECRET, WEBHOOK_SECRET

PRIVACY_URL = "https://news.example.org/privacy"
WIDTHS = {"phone": 390, "desktop": 1280}
# How long a page, a click's result or an assertion may take (a loaded CI machine is slow).
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)
SCREENSHOTS = pytest.StashKey[Path]()


def chromium_path() -> str | None:
    """Debian's Chromium (the ``chromium`` package), or another on PATH by its usual name."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def _missing(reason: str) -> None:
    """Skip with one line locally; fail under CI, where the browser tests must run."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: .ci/run installs chromium; the suite must run them")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The system's Chromium, headless, launched once for the whole session."""
    executable = chromium_path()
    if executable is None:
        _missing("no Chromium found (apt-get install chromium) for the browser tests")
    # Chromium refuses to run as root with its sandbox (CI runs as root); the pages it
    # opens here are the suite's own.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=args)
        yield launched
        launched.close()


class _Server:
    """A WSGI app served on a free loopback port, in a thread, until ``stop``; the app
    may be set once the address is known (the app's settings name it)."""

    def __init__(self) -> None:
        self.wsgi: Callable[..., Any] = Response("starting", status=503)
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.wsgi(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def article_page(request: Request, app_origin: str) -> Response:
    """A newsroom's article on another origin: ``/script`` carries the footer with one
    script tag, ``/iframe`` with one iframe. Query: ``lang``, ``frequency``, ``amount``."""
    lang = request.args.get("lang", "en")
    attributes = {"data-source": f"{request.host_url}articles/budget-story", "data-lang": lang}
    for name in ("frequency", "amount"):
        if name in request.args:
            attributes[f"data-{name}"] = request.args[name]
    if request.path == "/script":
        data = " ".join(f'{k}="{escape(v)}"' for k, v in attributes.items())
        footer = (
            f"<div data-membership-footer {data}></div>\n"
            f'<script src="{app_origin}/embed/footer.js" async></script>'
        )
    elif request.path == "/iframe":
        query = urlencode({k.removeprefix("data-"): v for k, v in attributes.items()})
        footer = (
            f'<iframe src="{app_origin}/embed/footer?{escape(query)}" title="Support us" '
            'style="width:100%;height:60rem;border:0"></iframe>'
        )
    else:
        return Response("Not found", status=404)
    page = f"""<!doctype html>
<html lang="{escape(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A budget story</title></head>
<body><main><h1>A budget story</h1>
<p>The council voted on the budget last night. This is the article's last paragraph.</p>
{footer}
</main></body></html>"""
    return Response(page, content_type="text/html; charset=utf-8")


@dataclass
class Site:
    """The app as the browser reaches it, and the article origin that embeds its footer."""

    app: Flask
    url: str  # the app's origin, e.g. http://127.0.0.1:41234
    article_origin: str
    stripe: FakeStripe
    smtp: SmtpSink

    def article(self, embed: str, **query: str) -> str:
        """The article page carrying the footer by ``embed`` ("script" or "iframe")."""
        return f"{self.article_origin}/{embed}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture(scope="session")
def site(app: Flask, database_url: str, fake_stripe_server: FakeStripe) -> Iterator[Site]:
    """The app served on loopback (its own instance: PUBLIC_BASE_URL is its real address,
    for Stripe's return links), on the suite's migrated test database."""
    sink = SmtpSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    sink.url = f"smtp://127.0.0.1:{smtp.port}"
    served, article = _Server(), _Server()
    article.wsgi = lambda environ, start: article_page(Request(environ), served.origin)(
        environ, start
    )
    live = create_app(
        app_environ(
            database_url,
            PUBLIC_BASE_URL=served.origin,
            CORS_ALLOWED_ORIGINS=article.origin,
            STRIPE_SECRET_KEY="sk_test_fake",
            STRIPE_API_BASE=fake_stripe_server.base_url,
            STRIPE_WEBHOOK_SECRET=f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
            SMTP_URL=sink.url,
            PRIVACY_POLICY_URL=PRIVACY_URL,
        ),
        # The newsletter's own settings are read from the Flask config (newsletter.settings).
        PRIVACY_POLICY_URL=PRIVACY_URL,
        NEWSLETTER_LANGUAGES="en,ru",  # the newsroom writes its newsletter in both
    )
    served.wsgi = live
    try:
        yield Site(live, served.origin, article.origin, fake_stripe_server, sink)
    finally:
        served.stop()
        article.stop()
        smtp.stop()
        limiter.init_app(app)  # the rate limiter is shared: give it back to the suite's app


@pytest.fixture
def fresh_site(site: Site, stripe: FakeStripe) -> Iterator[Site]:
    """The site with the fake Stripe's sessions and the mailbox emptied for this test."""
    with site.smtp.lock:
        site.smtp.received.clear()
    yield site
    with site.app.app_context():
        limiter.reset()


@pytest.fixture
def page(browser: Any, fresh_site: Site) -> Iterator[Any]:
    """A new browser context (no cookies) and page for one test, desktop-wide."""
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def page_without_javascript(browser: Any, fresh_site: Site) -> Iterator[Any]:
    """A page in a browser context with JavaScript off (the footer for CMSs that strip
    scripts must work there)."""
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": WIDTHS["desktop"], "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots_dir(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Path:
    """Where screenshots go: ``BROWSER_SCREENSHOTS`` or a folder of this run's tmp dir."""
    chosen = os.environ.get("BROWSER_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    request.config.stash[SCREENSHOTS] = folder
    return folder


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    folder = config.stash.get(SCREENSHOTS, None)
    if folder is not None:
        terminalreporter.write_line(f"browser screenshots: {folder}")


@pytest.fixture
def screenshot(screenshots_dir: Path) -> Callable[[Any, str], list[Path]]:
    """``screenshot(page, "support")`` writes the whole page at 390 and 1280 px wide."""

    def take(page: Any, name: str) -> list[Path]:
        written = []
        original = page.viewport_size
        for width in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": 900})
            path = screenshots_dir / f"{name}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
        page.set_viewport_size(original)
        return written

    return take
