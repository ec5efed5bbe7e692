"""The whole loop against localstripe, a stateful fake Stripe run as a real server.

localstripe (a test-only tool) runs as a subprocess on a free loopback port; the app
is served over real HTTP so localstripe can deliver its signed webhooks to it, and
the gateway talks to localstripe through ``STRIPE_API_BASE``. localstripe speaks
the old API version 2017-08-15 (``invoice.payment_succeeded``, ``plan`` instead of
``price``, a top-level ``invoice.subscription``), so these tests also prove that
the handlers accept those shapes.

Test code talks to localstripe over plain HTTP to play the reader's part (customer,
card, subscription); only what the product itself does goes through the gateway.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from membership import create_app, stripe_gateway
from membership.config import current_settings
from membership.extensions import db
from membership.models import (
    Payment,
    RecurringSupport,
    StripeEvent,
    Supporter,
    normalise_email,
)
from tests.conftest import app_environ

SECRET_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_test_localstripe"
WEBHOOK_NAME = "membership"
PLAN_ID = "plan_membership_monthly"
PLAN_AMOUNT = 500
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}
START_TIMEOUT_SECONDS = 20.0
DELIVERY_TIMEOUT_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.05

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], what: str, timeout: float) -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL_SECONDS)


def free_port() -> int:
    """A port free on every interface, as localstripe binds it (``::``, dual stack)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.bind(("::", 0))
        return int(sock.getsockname()[1])


# -- localstripe as a subprocess -------------------------------------------------------


@dataclass(frozen=True)
class LocalStripe:
    """A running localstripe: its address, and when it started (the earliest ``--since``)."""

    base_url: str
    started: datetime

    def request(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        """Call localstripe's API as a Stripe client would, JSON in and out."""
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL built here
            self.base_url + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {SECRET_KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"localstripe {method} {path}: {exc.code} {exc.read()!r}") from exc
        return json.loads(raw) if raw else None

    def event_ids(self) -> dict[str, str]:
        """Every event localstripe has created so far: id -> type."""
        page = self.request("GET", "/v1/events?" + urlencode({"limit": 10_000}))
        assert page["has_more"] is False
        return {event["id"]: event["type"] for event in page["data"]}


def _localstripe_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("localstripe")
    if script.exists():
        return [str(script), "--port", str(port), "--from-scratch"]
    found = shutil.which("localstripe")
    if found:
        return [found, "--port", str(port), "--from-scratch"]
    return [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"]


def _ready(base_url: str, port: int, log_path: Path) -> bool:
    """Our process bound the port (its log says so: no other server answers) and answers."""
    if f"Running on http://[::]:{port}" not in log_path.read_text(errors="replace"):
        return False
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL built here
        base_url + "/v1/events?limit=1", headers={"Authorization": f"Bearer {SECRET_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """``localstripe --from-scratch`` on a free port, stopped when the module ends.

    It listens on every interface (it binds ``::``), so it lives only as long as these tests.
    """
    log_path = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    for _attempt in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        started = datetime.now(UTC)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                _localstripe_command(port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while process.poll() is None and not _ready(base_url, port, log_path):
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(f"localstripe did not answer: {log_path.read_text()}")
            time.sleep(POLL_INTERVAL_SECONDS)
        if process.poll() is None:
            break
    else:
        raise AssertionError(f"localstripe would not start: {log_path.read_text()}")
    try:
        yield LocalStripe(base_url, started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the app, configured for localstripe and served over HTTP ---------------------------


@pytest.fixture(scope="module")
def localstripe_app(app: Flask, database_url: str, localstripe: LocalStripe) -> Flask:
    """An app whose gateway calls localstripe, on the migrated test database of ``app``."""
    return create_app(
        app_environ(
            database_url,
            STRIPE_SECRET_KEY=SECRET_KEY,
            STRIPE_API_BASE=localstripe.base_url,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
    )


@pytest.fixture(scope="module")
def webhook_url(localstripe_app: Flask, localstripe: LocalStripe) -> Iterator[str]:
    """Serve the app on loopback and register it with localstripe as a webhook endpoint."""
    server = make_server("127.0.0.1", 0, localstripe_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="webhook-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/stripe/webhook"
    # localstripe's own route: it signs every event for this endpoint with this secret.
    localstripe.request(
        "POST", f"/_config/webhooks/{WEBHOOK_NAME}", {"url": url, "secret": WEBHOOK_SECRET}
    )
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def monthly_plan(localstripe: LocalStripe, webhook_url: str) -> str:
    """A monthly plan (localstripe has Plans, not Prices) of 5.00 USD."""
    localstripe.request(
        "POST",
        "/v1/plans",
        {
            "id": PLAN_ID,
            "amount": PLAN_AMOUNT,
            "currency": "usd",
            "interval": "month",
            "product": {"name": "Monthly support"},
        },
    )
    return PLAN_ID


def stored_statuses(app: Flask, event_ids: set[str]) -> dict[str, str]:
    """Which of these events the app has stored, and how their processing went."""
    with app.app_context():
        rows = db.session.execute(
            select(StripeEvent.id, StripeEvent.status).where(StripeEvent.id.in_(event_ids))
        ).all()
        db.session.remove()
    return {row.id: row.status for row in rows}


@dataclass
class Deliveries:
    """Which of localstripe's events have already reached the app (it sends each once)."""

    app: Flask
    localstripe: LocalStripe
    delivered: set[str]

    def wait(self) -> dict[str, str]:
        """Wait until every event not delivered yet is stored and processed; id -> type."""
        events = self.localstripe.event_ids()
        pending = set(events) - self.delivered

        def all_stored() -> dict[str, str] | None:
            statuses = stored_statuses(self.app, pending)
            return statuses if len(statuses) == len(pending) else None

        what = f"localstripe to deliver {sorted(events[i] for i in pending)}"
        statuses = wait_for(all_stored, what, DELIVERY_TIMEOUT_SECONDS) if pending else {}
        failed = {i: events[i] for i, status in statuses.items() if status != "processed"}
        assert not failed, f"events not processed: {failed}"
        self.delivered.update(pending)
        return {i: events[i] for i in pending}


@pytest.fixture(scope="module")
def deliveries(
    localstripe_app: Flask, localstripe: LocalStripe, webhook_url: str, monthly_plan: str
) -> Deliveries:
    return Deliveries(localstripe_app, localstripe, set())


@pytest.fixture
def webhooks(deliveries: Deliveries) -> Iterator[Deliveries]:
    """After the test, and before its database is emptied, wait for every webhook.

    localstripe delivers an event a second after creating it; waiting keeps a late
    delivery out of the next test, and checks that every event was processed.
    """
    yield deliveries
    deliveries.wait()


# -- playing the reader's part in localstripe --------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    customer_id: str
    subscription_id: str
    invoice_id: str
    payment_intent_id: str
    email: str


def subscribe(localstripe: LocalStripe, plan_id: str, email: str) -> Subscribed:
    """A customer with a card, subscribed to the plan; localstripe charges the first invoice."""
    card = localstripe.request("POST", "/v1/payment_methods", {"type": "card", "card": CARD})
    customer = localstripe.request(
        "POST",
        "/v1/customers",
        {
            "email": email,
            "name": "Ada Reader",
            "payment_method": card["id"],
            "invoice_settings": {"default_payment_method": card["id"]},
        },
    )
    subscription = localstripe.request(
        "POST", "/v1/subscriptions", {"customer": customer["id"], "items": [{"plan": plan_id}]}
    )
    assert subscription["status"] == "active", subscription
    invoice = localstripe.request("GET", f"/v1/invoices/{subscription['latest_invoice']}")
    assert invoice["status"] == "paid", invoice
    return Subscribed(
        customer_id=customer["id"],
        subscription_id=subscription["id"],
        invoice_id=invoice["id"],
        payment_intent_id=invoice["payment_intent"],
        email=email,
    )


# -- reading the ledger ------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerView:
    supporter: dict[str, Any] | None
    recurring: dict[str, Any] | None
    payments: list[dict[str, Any]]


def ledger_for(app: Flask, subscribed: Subscribed) -> LedgerView:
    """What the ledger holds for this subscription, read in a fresh session."""
    with app.app_context():
        supporter = db.session.scalar(
            select(Supporter).where(Supporter.email == normalise_email(subscribed.email))
        )
        recurring = db.session.scalar(
            select(RecurringSupport).where(
                RecurringSupport.stripe_subscription_id == subscribed.subscription_id
            )
        )
        payments = db.session.scalars(
            select(Payment).where(Payment.stripe_subscription_id == subscribed.subscription_id)
        ).all()
        view = LedgerView(
            supporter=(
                None
                if supporter is None
                else {
                    "id": supporter.id,
                    "customer_id": supporter.stripe_customer_id,
                    "email": supporter.email,
                }
            ),
            recurring=(
                None
                if recurring is None
                else {
                    "status": recurring.status,
                    "amount_minor": recurring.amount_minor,
                    "currency": recurring.currency,
                    "frequency": recurring.frequency,
                    "customer_id": recurring.stripe_customer_id,
                    "supporter_id": recurring.supporter_id,
                    "cancel_at_period_end": recurring.cancel_at_period_end,
                    "started_at": recurring.started_at,
                    "ended_at": recurring.ended_at,
                    "id": recurring.id,
                }
            ),
            payments=[
                {
                    "invoice_id": payment.stripe_invoice_id,
                    "payment_intent_id": payment.stripe_payment_intent_id,
                    "customer_id": payment.stripe_customer_id,
                    "amount_minor": payment.amount_minor,
                    "currency": payment.currency,
                    "frequency": payment.frequency,
                    "status": payment.status,
                    "supporter_id": payment.supporter_id,
                    "recurring_support_id": payment.recurring_support_id,
                }
                for payment in payments
            ],
        )
        db.session.remove()
    return view


def wait_for_active_gift(app: Flask, subscribed: Subscribed) -> LedgerView:
    """Poll until the webhooks have recorded the supporter, the active gift and its payment."""

    def recorded() -> LedgerView | None:
        view = ledger_for(app, subscribed)
        ready = (
            view.supporter is not None
            and view.supporter["customer_id"] is not None
            and view.recurring is not None
            and view.recurring["status"] == "active"
            and view.recurring["frequency"] is not None
            and view.recurring["supporter_id"] is not None
            and len(view.payments) == 1
            and view.payments[0]["supporter_id"] is not None
        )
        return view if ready else None

    return wait_for(recorded, "the ledger to record the subscription", DELIVERY_TIMEOUT_SECONDS)


def assert_active_monthly_gift(view: LedgerView, subscribed: Subscribed) -> None:
    assert view.supporter is not None and view.recurring is not None
    assert view.supporter["customer_id"] == subscribed.customer_id
    assert view.recurring == {
        **view.recurring,
        "status": "active",
        "amount_minor": PLAN_AMOUNT,
        "currency": "USD",
        "frequency": "monthly",
        "customer_id": subscribed.customer_id,
        "supporter_id": view.supporter["id"],
        "cancel_at_period_end": False,
        "ended_at": None,
    }
    assert view.recurring["started_at"] is not None
    assert view.payments == [
        {
            "invoice_id": subscribed.invoice_id,
            "payment_intent_id": subscribed.payment_intent_id,
            "customer_id": subscribed.customer_id,
            "amount_minor": PLAN_AMOUNT,
            "currency": "USD",
            "frequency": "monthly",
            "status": "succeeded",
            "supporter_id": view.supporter["id"],
            "recurring_support_id": view.recurring["id"],
        }
    ]


def empty_database(app: Flask) -> None:
    """Forget everything: stored events and the whole ledger."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


def count(app: Flask, model: type) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model)) or 0
        db.session.remove()
    return int(n)


# -- tests -------------------------------------------------------------------------------


def test_a_subscription_in_localstripe_reaches_the_ledger_through_signed_webhooks(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "Ada.Reader@example.org")

    view = wait_for_active_gift(localstripe_app, subscribed)

    assert_active_monthly_gift(view, subscribed)
    assert view.supporter is not None
    assert view.supporter["email"] == "ada.reader@example.org"  # stored in its one form
    with localstripe_app.app_context():
        stored = db.session.execute(
            select(StripeEvent.type, StripeEvent.api_version, StripeEvent.livemode)
        ).all()
        db.session.remove()
    assert {"invoice.payment_succeeded", "customer.subscription.created"} <= {
        row.type for row in stored
    }
    assert {(row.api_version, row.livemode) for row in stored} == {("2017-08-15", False)}


def test_cancelling_through_the_gateway_ends_the_gift_in_the_ledger(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "leaving@example.org")
    wait_for_active_gift(localstripe_app, subscribed)

    with localstripe_app.app_context():
        result = stripe_gateway.cancel_subscription(
            current_settings(), subscribed.subscription_id, at_period_end=False
        )

    assert result["id"] == subscribed.subscription_id
    assert result["status"] == "canceled"
    assert isinstance(result["ended_at"], int)

    # localstripe sends customer.subscription.deleted for an immediate cancellation.
    def canceled() -> LedgerView | None:
        view = ledger_for(localstripe_app, subscribed)
        return view if view.recurring and view.recurring["status"] == "canceled" else None

    view = wait_for(canceled, "the ledger to record the cancellation", DELIVERY_TIMEOUT_SECONDS)
    assert view.recurring is not None
    assert view.recurring["ended_at"] == datetime.fromtimestamp(result["ended_at"], UTC)
    assert view.recurring["amount_minor"] == PLAN_AMOUNT
    assert len(view.payments) == 1 and view.payments[0]["status"] == "succeeded"


def test_cancel_at_period_end_keeps_the_subscription_active_in_stripe(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "until-renewal@example.org")
    wait_for_active_gift(localstripe_app, subscribed)

    with localstripe_app.app_context():
        result = stripe_gateway.cancel_subscription(
            current_settings(), subscribed.subscription_id, at_period_end=True
        )

    assert result["id"] == subscribed.subscription_id
    assert result["status"] == "active"
    assert result["cancel_at_period_end"] is True
    in_stripe = localstripe.request("GET", f"/v1/subscriptions/{subscribed.subscription_id}")
    assert in_stripe["cancel_at_period_end"] is True and in_stripe["status"] == "active"
    # localstripe sends no customer.subscription.updated, so the ledger learns of this only
    # from real Stripe; the webhook tests built from fixtures3.json cover that event.


def test_cancelling_a_subscription_stripe_does_not_know_raises_a_gateway_error(
    localstripe_app: Flask,
) -> None:
    with localstripe_app.app_context(), pytest.raises(stripe_gateway.GatewayError):
        stripe_gateway.cancel_subscription(current_settings(), "sub_missing", at_period_end=False)


def test_list_events_pages_through_every_event_once(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
) -> None:
    subscribe(localstripe, monthly_plan, "pages@example.org")
    expected = localstripe.event_ids()
    assert len(expected) > 3

    seen: list[str] = []
    pages = 0
    starting_after = None
    with localstripe_app.app_context():
        settings = current_settings()
        created_since = int(localstripe.started.timestamp())
        while True:
            page, has_more = stripe_gateway.list_events(
                settings, created_since, starting_after, limit=3
            )
            pages += 1
            seen.extend(event["id"] for event in page)
            if not has_more:
                break
            starting_after = page[-1]["id"]
            assert pages < 1000, "paging does not end"

    assert len(seen) == len(set(seen))
    assert set(seen) == set(expected)
    assert pages == math.ceil(len(expected) / 3)

    with localstripe_app.app_context():
        later, has_more = stripe_gateway.list_events(
            current_settings(), int(time.time()) + 3600, None
        )
    assert later == [] and has_more is False


def test_sync_stores_and_processes_every_event_the_webhooks_missed(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "missed@example.org")
    wait_for_active_gift(localstripe_app, subscribed)
    webhooks.wait()
    empty_database(localstripe_app)  # as if every webhook had been lost
    assert ledger_for(localstripe_app, subscribed) == LedgerView(None, None, [])

    listed_pages: list[str | None] = []
    list_events = stripe_gateway.list_events

    def small_pages(
        settings: Any, created_since: int, starting_after: str | None = None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], bool]:
        listed_pages.append(starting_after)
        assert len(listed_pages) < 1000, "sync does not stop paging"
        return list_events(settings, created_since, starting_after, limit=4)

    monkeypatch.setattr(stripe_gateway, "list_events", small_pages)
    since = localstripe.started.strftime("%Y-%m-%d")
    runner = localstripe_app.test_cli_runner()

    result = runner.invoke(args=["stripe", "sync", "--since", since])

    n = len(localstripe.event_ids())
    assert result.exit_code == 0, result.output
    assert (
        f"listed {n}, already settled 0; processed {n}, duplicate 0, ignored 0, failed 0"
        in result.output
    )
    assert len(listed_pages) == math.ceil(n / 4) > 1
    assert count(localstripe_app, StripeEvent) == n
    assert_active_monthly_gift(ledger_for(localstripe_app, subscribed), subscribed)

    again = runner.invoke(args=["stripe", "sync", "--since", since])

    assert again.exit_code == 0, again.output
    assert (
        f"listed {n}, already settled {n}; processed 0, duplicate 0, ignored 0, failed 0"
        in again.output
    )
    assert count(localstripe_app, StripeEvent) == n
    assert count(localstripe_app, Payment) == len(
        [t for t in localstripe.event_ids().values() if t == "invoice.payment_succeeded"]
    )

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    nothing = runner.invoke(args=["stripe", "sync", "--since", tomorrow])
    assert nothing.exit_code == 0, nothing.output
    assert "listed 0, already settled 0; processed 0" in nothing.output


def test_events_lists_what_localstripe_delivered_and_replay_processes_one_again(
    localstripe_app: Flask,
    localstripe: LocalStripe,
    monthly_plan: str,
    webhooks: Deliveries,
) -> None:
    subscribed = subscribe(localstripe, monthly_plan, "replayed@example.org")
    wait_for_active_gift(localstripe_app, subscribed)
    mine = webhooks.wait()
    runner = localstripe_app.test_cli_runner()

    listing = runner.invoke(args=["stripe", "events", "--limit", "100"])

    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    for event_id, event_type in mine.items():
        [line] = [line for line in lines if line.startswith(event_id)]
        assert event_type in line and " processed " in line
    failed = runner.invoke(args=["stripe", "events", "--failed"])
    assert failed.exit_code == 0 and failed.output.strip() == "no events"

    [paid_event] = [i for i, t in mine.items() if t == "invoice.payment_succeeded"]
    replayed = runner.invoke(args=["stripe", "replay", paid_event])

    assert replayed.exit_code == 0, replayed.output
    assert replayed.output.strip() == f"{paid_event}: processed"
    with localstripe_app.app_context():
        stored = db.session.get(StripeEvent, paid_event)
        assert stored is not None and stored.attempts == 2 and stored.status == "processed"
        db.session.remove()
    assert_active_monthly_gift(ledger_for(localstripe_app, subscribed), subscribed)

    unknown = runner.invoke(args=["stripe", "replay", "evt_never_sent"])
    assert unknown.exit_code == 1
    assert "no stored event evt_never_sent" in unknown.output
