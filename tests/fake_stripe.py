"""A Stripe-compatible HTTP server on loopback for the calls localstripe does not cover.

localstripe has no Checkout Sessions and no Products with chosen ids, so these
tests point the gateway (``STRIPE_API_BASE``) at this small server instead. It
answers with Stripe's own example objects from ``tests/stripe/fixtures3.json``
and records every request exactly as the stripe library sent it over HTTP, so a
test can assert the parameters Stripe would have received. A session's ``url`` is a small
"Checkout" page of this server, so a real browser lands on it (``tests/browser``): it shows
the session's terms, and its Pay button completes the session and returns to success_url.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

# Stripe's openapi/fixtures3.json (stripe/openapi, commit f6c2a48f, MIT), kept in the
# repository (tests/stripe/README.md); STRIPE_FIXTURES names another copy.
FIXTURES_PATH = Path(
    os.environ.get("STRIPE_FIXTURES")
    or Path(__file__).resolve().parent / "stripe" / "fixtures3.json"
)


def stripe_fixture(resource: str) -> dict[str, Any]:
    """A deep copy of Stripe's published example object for ``resource``."""
    return copy.deepcopy(_fixtures()[resource])


_FIXTURES: dict[str, Any] = {}


def _fixtures() -> dict[str, Any]:
    if not _FIXTURES:
        if not FIXTURES_PATH.is_file():
            raise FileNotFoundError(
                f"Stripe's example objects are not at {FIXTURES_PATH}: the repository "
                "keeps them in tests/stripe/fixtures3.json; restore it from git, or name "
                "a copy with STRIPE_FIXTURES"
            )
        _FIXTURES.update(json.loads(FIXTURES_PATH.read_text())["resources"])
    return _FIXTURES


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=1``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, following in zip(parts, parts[1:], strict=False):
            index: Any = int(part) if isinstance(node, list) else part
            if isinstance(node, list):
                while len(node) <= index:
                    node.append(None)
            if node[index] is None if isinstance(node, list) else index not in node:
                node[index] = [] if following.isdigit() else {}
            node = node[index]
        last = parts[-1]
        if isinstance(node, list):
            position = int(last)
            while len(node) <= position:
                node.append(None)
            node[position] = value
        else:
            node[last] = value
    return root


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    """State and recorded traffic of the fake server; tests read and steer it."""

    requests: list[RecordedRequest] = field(default_factory=list)
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The parameters each session was created with (its price's interval, its locale).
    created_with: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What GET /v1/events lists, as Stripe sent each event (any order: listed newest first).
    events: list[dict[str, Any]] = field(default_factory=list)
    # Or a listing of any length, made an event at a time as pages are asked for
    # (``generate_events``): the count, and what makes event n (0 the newest).
    generated: tuple[int, Callable[[int], dict[str, Any]]] | None = None
    # Subscriptions a test put here (``add_subscription``), for the account's changes:
    # each update applies its parameters as Stripe would and emits the webhook Stripe
    # would send (into ``events``), and a repeated Idempotency-Key gets the first answer.
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_customers: list[str] = field(default_factory=list)
    answered_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The ``created`` time of the next emitted event (then one second later each); None:
    # the real clock.
    event_clock: int | None = None
    fail_with: int | None = None  # answer calls under fail_path with this HTTP status
    fail_path: str = "/v1/"
    base_url: str = ""
    # Called before each answer, in the server's thread: what the app can do meanwhile.
    while_answering: Callable[[], None] | None = None

    def calls(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def complete_session(self, session_id: str, payment_status: str = "paid") -> None:
        """What Stripe does when the reader pays: the session becomes complete."""
        self.sessions[session_id].update(status="complete", payment_status=payment_status)

    def generate_events(self, count: int, make: Callable[[int], dict[str, Any]]) -> None:
        """List ``count`` events, ``make(n)`` the n-th newest (its ``created`` no later than
        the one before); each gets the id ``evt_gen_<n>``. Nothing is kept: a listing
        of 100,000 costs a page's events per page."""
        self.generated = (count, make)

    def reset(self) -> None:
        self.generated = None
        self.requests.clear()
        self.sessions.clear()
        self.created_with.clear()
        self.charges.clear()
        self.events.clear()
        self.subscriptions.clear()
        self.deleted_customers.clear()
        self.answered_keys.clear()
        self.event_clock = None
        self.fail_with = None
        self.fail_path = "/v1/"
        self.while_answering = None

    # -- the WSGI app -------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        params = decode_form(request.get_data(as_text=True)) if request.method == "POST" else {}
        self.requests.append(
            RecordedRequest(request.method, request.path, params, dict(request.headers))
        )
        if self.while_answering is not None:
            self.while_answering()
        response = self._answer(request, params)
        return response(environ, start_response)

    def _answer(self, request: Request, params: dict[str, Any]) -> Response:
        if self.fail_with is not None and request.path.startswith(self.fail_path):
            return _error(self.fail_with, "api_error", None, "Simulated Stripe outage")
        path = request.path
        if match := re.fullmatch(r"/c/pay/([^/]+)", path):
            return self._checkout_page(request.method, match.group(1))
        if request.method == "GET" and (match := re.fullmatch(r"/v1/products/([^/]+)", path)):
            product = self.products.get(match.group(1))
            return _json(product) if product else _missing("product", match.group(1))
        if request.method == "POST" and path == "/v1/products":
            product = stripe_fixture("product")
            product.update(
                id=params["id"], name=params["name"], metadata=params.get("metadata", {})
            )
            self.products[product["id"]] = product
            return _json(product)
        if request.method == "POST" and path == "/v1/checkout/sessions":
            return _json(self._create_session(params))
        if request.method == "GET" and (
            match := re.fullmatch(r"/v1/checkout/sessions/([^/]+)", path)
        ):
            session = self.sessions.get(match.group(1))
            return _json(session) if session else _missing("checkout.session", match.group(1))
        if request.method == "GET" and (match := re.fullmatch(r"/v1/charges/([^/]+)", path)):
            charge = self.charges.get(match.group(1))
            return _json(charge) if charge else _missing("charge", match.group(1))
        if request.method == "GET" and path == "/v1/events":
            return _json(self._list_events(request.args))
        if request.method == "POST" and path == "/v1/billing_portal/sessions":
            return _json(self._create_portal_session(params))
        if match := re.fullmatch(r"/v1/subscriptions/([^/]+)", path):
            subscription = self.subscriptions.get(match.group(1))
            if subscription is None:
                return _missing("subscription", match.group(1))
            if request.method == "POST":
                key = request.headers.get("Idempotency-Key")
                if key and key in self.answered_keys:
                    return _json(self.answered_keys[key])
                self._update_subscription(subscription, params)
                if key:
                    self.answered_keys[key] = copy.deepcopy(subscription)
            elif request.method == "DELETE":
                self._end_subscription(subscription)
            return _json(subscription)
        if request.method == "DELETE" and (match := re.fullmatch(r"/v1/customers/([^/]+)", path)):
            return _json(self._delete_customer(match.group(1)))
        return _error(404, "invalid_request_error", None, f"Unrecognized request URL {path}")

    def add_subscription(
        self,
        subscription_id: str,
        customer: str,
        *,
        amount: int = 500,
        currency: str = "usd",
        interval: str = "month",
    ) -> dict[str, Any]:
        """A subscription Stripe holds, as its example object with these ids and terms,
        active and collecting."""
        subscription = stripe_fixture("subscription")
        subscription.update(
            id=subscription_id,
            customer=customer,
            status="active",
            cancel_at_period_end=False,
            canceled_at=None,
            ended_at=None,
            pause_collection=None,
            metadata={},
        )
        item = subscription["items"]["data"][0]
        item["subscription"] = subscription_id
        item["price"].update(id=f"price_{subscription_id}", currency=currency, unit_amount=amount)
        item["price"]["recurring"]["interval"] = interval
        self.subscriptions[subscription_id] = subscription
        return subscription

    def _update_subscription(self, subscription: dict[str, Any], params: dict[str, Any]) -> None:
        """What Stripe does with the parameters the account sends, then its webhook."""
        for item_params in params.get("items") or []:
            item = next(i for i in subscription["items"]["data"] if i["id"] == item_params["id"])
            price_data = item_params["price_data"]
            item["price"] = {
                **item["price"],
                "id": "price_" + secrets.token_hex(8),
                "currency": price_data["currency"],
                "unit_amount": int(price_data["unit_amount"]),
                "unit_amount_decimal": price_data["unit_amount"],
                "product": price_data["product"],
                "recurring": {**item["price"]["recurring"], **price_data["recurring"]},
            }
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        if "pause_collection" in params:
            pause = params["pause_collection"]
            subscription["pause_collection"] = (
                {
                    "behavior": pause["behavior"],
                    "resumes_at": int(pause["resumes_at"]) if pause.get("resumes_at") else None,
                }
                if pause
                else None
            )
        self.emit("customer.subscription.updated", subscription)

    def _end_subscription(self, subscription: dict[str, Any]) -> None:
        if subscription["status"] == "canceled":
            return
        now = self._next_created()
        subscription.update(status="canceled", canceled_at=now, ended_at=now)
        self.emit("customer.subscription.deleted", subscription, created=now)

    def _delete_customer(self, customer: str) -> dict[str, Any]:
        """Stripe deletes the customer and ends their subscriptions at once."""
        self.deleted_customers.append(customer)
        for subscription in self.subscriptions.values():
            if subscription["customer"] == customer:
                self._end_subscription(subscription)
        return {"id": customer, "object": "customer", "deleted": True}

    def _next_created(self) -> int:
        if self.event_clock is None:
            return int(time.time())
        self.event_clock += 1
        return self.event_clock - 1

    def emit(self, event_type: str, obj: dict[str, Any], created: int | None = None) -> None:
        """Record the webhook event Stripe would send now, with a copy of ``obj``."""
        envelope = stripe_fixture("event")
        envelope.update(
            id="evt_" + secrets.token_hex(12),
            type=event_type,
            created=self._next_created() if created is None else created,
            livemode=False,
            api_version="2026-10-28.endive",
            data={"object": copy.deepcopy(obj), "previous_attributes": {}},
            pending_webhooks=1,
        )
        self.events.append(envelope)

    def _create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        portal = stripe_fixture("billing_portal.session")
        portal_id = "bps_" + secrets.token_hex(12)
        portal.update(
            id=portal_id,
            customer=params["customer"],
            return_url=params.get("return_url"),
            url=f"https://billing.stripe.test/p/session/{portal_id}",
        )
        return portal

    def _list_events(self, args: Any) -> dict[str, Any]:
        """One page of the Events API: newest first, ``created[gte]``, ``limit`` and
        ``starting_after`` as Stripe reads them."""
        since = int(args.get("created[gte]", 0))
        if self.generated is not None:
            return self._list_generated(args, since)
        newest_first = sorted(
            (event for event in self.events if event["created"] >= since),
            key=lambda event: event["created"],
            reverse=True,
        )
        if "starting_after" in args:
            ids = [event["id"] for event in newest_first]
            newest_first = newest_first[ids.index(args["starting_after"]) + 1 :]
        limit = int(args.get("limit", 10))
        return {
            "object": "list",
            "data": newest_first[:limit],
            "has_more": len(newest_first) > limit,
            "url": "/v1/events",
        }

    def _list_generated(self, args: Any, since: int) -> dict[str, Any]:
        assert self.generated is not None
        count, make = self.generated
        after = args.get("starting_after")
        n = int(after.removeprefix("evt_gen_")) + 1 if after else 0
        limit = int(args.get("limit", 10))
        data: list[dict[str, Any]] = []
        while n < count and len(data) <= limit:  # one more than the page: has_more
            event = {**make(n), "id": f"evt_gen_{n}"}
            if event["created"] < since:
                break
            data.append(event)
            n += 1
        return {
            "object": "list",
            "data": data[:limit],
            "has_more": len(data) > limit,
            "url": "/v1/events",
        }

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session = stripe_fixture("checkout.session")
        session_id = "cs_test_" + secrets.token_hex(24)
        price = params["line_items"][0]["price_data"]
        session.update(
            id=session_id,
            url=f"{self.base_url}/c/pay/{session_id}",
            mode=params["mode"],
            status="open",
            payment_status="unpaid",
            currency=price["currency"],
            amount_total=int(price["unit_amount"]),
            amount_subtotal=int(price["unit_amount"]),
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            success_url=params["success_url"],
            cancel_url=params["cancel_url"],
            customer_email=params.get("customer_email"),
            submit_type=params.get("submit_type"),
            payment_intent=None,
        )
        self.sessions[session_id] = session
        self.created_with[session_id] = params
        return session

    def _checkout_page(self, method: str, session_id: str) -> Response:
        """Stripe Checkout, as little of it as a browser test needs: the terms the reader
        would pay on (GET), and paying (POST: complete, then back to success_url)."""
        session = self.sessions.get(session_id)
        if session is None:
            return Response("No such Checkout Session", status=404, content_type="text/plain")
        if method == "POST":
            self.complete_session(session_id)
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            return Response(status=303, headers={"Location": target})
        created_with = self.created_with[session_id]
        price = created_with["line_items"][0]["price_data"]
        terms = {
            "mode": session["mode"],
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "interval": (price.get("recurring") or {}).get("interval", ""),
            "locale": created_with.get("locale", ""),
            "email": session.get("customer_email") or "",
        }
        rows = "".join(
            f'<dt>{name}</dt><dd data-term="{name}">{escape(value)}</dd>'
            for name, value in terms.items()
        )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Fake Stripe Checkout</title></head><body><main>"
            f"<h1>Checkout</h1><dl>{rows}</dl>"
            f'<form method="post"><button type="submit">Pay</button></form>'
            f'<a href="{escape(session["cancel_url"])}">Back</a></main></body></html>'
        )
        return Response(page, content_type="text/html; charset=utf-8")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Request-Id": "req_" + secrets.token_hex(7), "Stripe-Should-Retry": "false"},
    )


def _error(status: int, kind: str, code: str | None, message: str) -> Response:
    return _json({"error": {"type": kind, "code": code, "message": message}}, status)


def _missing(resource: str, object_id: str) -> Response:
    return _error(
        404, "invalid_request_error", "resource_missing", f"No such {resource}: '{object_id}'"
    )


class FakeStripeServer:
    """Serve a FakeStripe on a free loopback port in a background thread."""

    def __init__(self) -> None:
        self.state = FakeStripe()
        self._server = make_server("127.0.0.1", 0, self.state, threaded=True)
        self.state.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self.state

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
