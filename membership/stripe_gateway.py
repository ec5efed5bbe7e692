"""The only module that imports ``stripe``: every call to Stripe goes through here.

It takes and returns plain data (dicts, dataclasses), pins the API version,
sends idempotency keys, and turns ``stripe`` exceptions into our own, so the
rest of the code never depends on the library's objects. Tests replace it at
this boundary only.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import stripe
import urllib3

from membership.config import Settings

log = logging.getLogger(__name__)
# The library logs request URLs at INFO; list filters can carry emails, so keep it quiet.
logging.getLogger("stripe").setLevel(logging.WARNING)

# Pinned to the version this stripe package speaks; webhook payloads are parsed in this shape.
API_VERSION = "2026-10-28.endive"

_PRODUCT_NAMES = {
    "once": "One-time support",
    "monthly": "Monthly support",
    "annual": "Annual support",
}
_INTERVALS = {"monthly": "month", "annual": "year"}


class GatewayError(RuntimeError):
    """Stripe could not do what we asked; the reader may try again later."""


class NotConfigured(GatewayError):
    """No Stripe secret key is set (development mode)."""


class NotFound(GatewayError):
    """Stripe has no such object."""


@dataclass(frozen=True)
class CheckoutRequest:
    """Everything needed to open a Checkout Session for one gift."""

    attempt_id: str
    frequency: str
    amount_minor: int
    currency: str
    email: str | None
    success_url: str
    cancel_url: str
    # STRIPE_PAYMENT_METHOD_CONFIGURATION: which methods Checkout offers; None, the account's.
    payment_method_configuration: str | None = None
    # The reader's language (membership.i18n): Checkout speaks it when Stripe can.
    language: str | None = None


# The languages Stripe Checkout's ``locale`` takes (Stripe's API reference); for any other
# the parameter is left out and Stripe chooses from the browser, as with "auto".
_CHECKOUT_LOCALES = (
    "bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb "
    "nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW"
)
CHECKOUT_LOCALES = frozenset(_CHECKOUT_LOCALES.split())


def checkout_locale(language: str | None) -> str | None:
    """Stripe's ``locale`` for one of our language tags ("pt-br" -> "pt-BR"), or None."""
    if not language:
        return None
    primary, _, region = language.partition("-")
    tag = f"{primary.lower()}-{region.upper()}" if region and len(region) == 2 else language
    for candidate in (tag, primary.lower()):
        if candidate in CHECKOUT_LOCALES:
            return candidate
    return None


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


_clients: dict[tuple[str, str | None], stripe.StripeClient] = {}
_products: dict[tuple[str, str | None, str], str] = {}
_lock = threading.Lock()


def _client(settings: Settings) -> stripe.StripeClient:
    if not settings.stripe_secret_key:
        raise NotConfigured("STRIPE_SECRET_KEY is not set")
    key = (settings.stripe_secret_key, settings.stripe_api_base)
    with _lock:
        if key not in _clients:
            base_addresses: Any = (
                {"api": settings.stripe_api_base} if settings.stripe_api_base else None
            )
            _clients[key] = stripe.StripeClient(
                settings.stripe_secret_key,
                stripe_version=API_VERSION,
                base_addresses=base_addresses,
                max_network_retries=2,
                http_client=_PooledHTTPClient(_proxy_from_environment()),
            )
        return _clients[key]


class _PooledHTTPClient(stripe.HTTPClient):
    """The Stripe library's HTTP, on one ``urllib3`` pool shared by every thread.

    Under a surge each Continue calls Stripe once, and the library's default client
    (``requests``, a session per thread) spent as much CPU preparing each call as the
    rest of the request did: merging settings, reading proxy and certificate
    variables from the environment, wrapping the answer. ``urllib3`` (what ``requests``
    runs on) sends the same bytes with keep-alive connections, verifies Stripe's
    certificate against the library's bundle, and leaves retrying to the library
    (``max_network_retries``), which retries connection failures and timeouts only.
    """

    name = "urllib3"
    _CONNECT_TIMEOUT_S = 30.0
    _READ_TIMEOUT_S = 80.0  # the library's own default: Stripe may take long, rarely

    def __init__(self, proxy: str | None) -> None:
        super().__init__(verify_ssl_certs=True, proxy=proxy)
        options: dict[str, Any] = {
            "maxsize": 64,  # a connection per waiting thread (gunicorn.conf.py's threads)
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": stripe.ca_bundle_path,
            "retries": False,
            "timeout": urllib3.Timeout(connect=self._CONNECT_TIMEOUT_S, read=self._READ_TIMEOUT_S),
        }
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        try:
            answer = self._pool.request(
                method.upper(), url, headers=dict(headers or {}), body=post_data, redirect=False
            )
        except urllib3.exceptions.SSLError as exc:
            self._fail(exc, retry=False)  # a certificate that does not verify stays so
        except urllib3.exceptions.HTTPError as exc:
            self._fail(exc, retry=True)  # timeouts, refused or dropped connections
        return answer.data, answer.status, answer.headers

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> NoReturn:
        raise NotImplementedError("the gateway reads no streamed answer from Stripe")

    @staticmethod
    def _fail(exc: Exception, *, retry: bool) -> NoReturn:
        raise stripe.APIConnectionError(
            f"could not reach Stripe: {type(exc).__name__}: {exc}", should_retry=retry
        ) from exc

    def close(self) -> None:
        self._pool.clear()


def _proxy_from_environment() -> str | None:
    """An HTTPS proxy the machine names (``HTTPS_PROXY``), read when the client is made."""
    return urllib.request.getproxies().get("https")


def _translate(exc: stripe.StripeError, action: str) -> GatewayError:
    # Log Stripe's request id and error code only: never card data or personal details.
    log.error(
        "stripe %s failed: %s (code=%s, request_id=%s, http_status=%s)",
        action,
        type(exc).__name__,
        exc.code,
        exc.request_id,
        exc.http_status,
    )
    if isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing":
        return NotFound(action)
    return GatewayError(f"{action}: {type(exc).__name__}")


def _as_sent(answer: stripe.StripeObject) -> dict[str, Any]:
    """Stripe's answer as the JSON it sent: plain dicts, lists, strings and numbers.

    Not ``to_dict()``: the library reads each ``*_decimal`` field (a price's
    ``unit_amount_decimal``, ``"2000"`` in Stripe's JSON) into a ``Decimal``, which
    ``json`` cannot write back into a stored payload; and an event listed by the API
    should read exactly as a webhook delivery of it does.
    """
    response = answer.last_response
    if response is not None:
        sent = json.loads(response.body)
        if isinstance(sent, dict):
            return sent
    return answer.to_dict(for_json=True)  # built without a response: Decimal as text


def product_for(settings: Settings, frequency: str) -> str:
    """The Stripe Product id gifts of this frequency are sold under.

    Configured (STRIPE_PRODUCT_<FREQUENCY>) or else one product per frequency
    with a fixed id, retrieved or created once and then cached for the process.
    """
    if frequency in settings.stripe_products:
        return settings.stripe_products[frequency]
    cache_key = (settings.stripe_secret_key or "", settings.stripe_api_base, frequency)
    if cache_key in _products:
        return _products[cache_key]
    client = _client(settings)
    product_id = f"membership_{frequency}"
    try:
        try:
            client.v1.products.retrieve(product_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            client.v1.products.create(
                params={
                    "id": product_id,
                    "name": _PRODUCT_NAMES[frequency],
                    "metadata": {"membership_frequency": frequency},
                },
                options={"idempotency_key": f"product-{product_id}"},
            )
    except stripe.StripeError as exc:
        raise _translate(exc, "product lookup") from exc
    _products[cache_key] = product_id
    return product_id


def checkout_session_params(request: CheckoutRequest, product_id: str) -> dict[str, Any]:
    """The exact parameters sent to Stripe to create a Checkout Session."""
    # What the webhooks need to find the attempt again, and no more: where the reader came
    # from (the article they read, the reminder they asked for) stays with the attempt.
    metadata = {"attempt_id": request.attempt_id, "frequency": request.frequency}
    price_data: dict[str, Any] = {
        "currency": request.currency.lower(),
        "unit_amount": request.amount_minor,
        "product": product_id,
    }
    params: dict[str, Any] = {
        "line_items": [{"price_data": price_data, "quantity": 1}],
        "client_reference_id": request.attempt_id,
        "metadata": metadata,
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
    }
    if request.frequency == "once":
        params["mode"] = "payment"
        params["submit_type"] = "donate"
        params["payment_intent_data"] = {"metadata": metadata}
    else:
        params["mode"] = "subscription"
        price_data["recurring"] = {"interval": _INTERVALS[request.frequency]}
        params["subscription_data"] = {"metadata": metadata}
    if request.email:
        params["customer_email"] = request.email
    if request.payment_method_configuration:
        params["payment_method_configuration"] = request.payment_method_configuration
    locale = checkout_locale(request.language)
    if locale:
        params["locale"] = locale
    return params


def create_checkout_session(settings: Settings, request: CheckoutRequest) -> CheckoutSession:
    """Open a Stripe Checkout Session; retried calls with the same attempt id are idempotent."""
    client = _client(settings)
    params = checkout_session_params(request, product_for(settings, request.frequency))
    try:
        # Raw: of Stripe's large answer only two fields are read, and building the
        # library's objects from it cost as much CPU as the rest of Continue.
        answer = client.raw_request(
            "post",
            "/v1/checkout/sessions",
            idempotency_key=f"checkout-{request.attempt_id}",
            **params,
        )
    except stripe.StripeError as exc:
        raise _translate(exc, "checkout session create") from exc
    session = json.loads(answer.body)
    return CheckoutSession(id=str(session["id"]), url=str(session["url"]))


def retrieve_checkout_session(settings: Settings, session_id: str) -> dict[str, Any]:
    """A Checkout Session as a plain dict, in the pinned API version's shape."""
    client = _client(settings)
    try:
        session = client.v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "checkout session retrieve") from exc
    return _as_sent(session)


class InvalidSignature(ValueError):
    """The webhook body was not signed by Stripe with any configured secret, or is stale."""


WEBHOOK_TOLERANCE_SECONDS = 300


def verify_webhook_signature(payload: bytes, header: str | None, secrets: tuple[str, ...]) -> None:
    """Check ``Stripe-Signature`` over the raw body against each configured secret.

    Only the HMAC check runs here (about 30 us); ``stripe.Webhook.construct_event``
    would also build StripeObjects, which costs far more and which we never use.
    """
    if not secrets:
        raise InvalidSignature("no webhook secret is configured")
    last_error: Exception | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            return
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
            last_error = exc
    raise InvalidSignature(str(last_error).split(".")[0])


def retrieve_charge(settings: Settings, charge_id: str) -> dict[str, Any]:
    """A Charge as a plain dict (to learn the payment intent a dispute belongs to)."""
    client = _client(settings)
    try:
        charge = client.v1.charges.retrieve(charge_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "charge retrieve") from exc
    return _as_sent(charge)


def list_events(
    settings: Settings, created_since: int, starting_after: str | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """One page of Stripe's Events API (newest first), each event as the JSON Stripe sent
    (what a webhook delivery of it would carry), and whether more follow."""
    client = _client(settings)
    params: dict[str, Any] = {"created": {"gte": created_since}, "limit": limit}
    if starting_after:
        params["starting_after"] = starting_after
    try:
        page = client.v1.events.list(params=params)  # type: ignore[arg-type]
    except stripe.StripeError as exc:
        raise _translate(exc, "events list") from exc
    listed = _as_sent(page)
    return list(listed.get("data") or []), bool(listed.get("has_more"))


def cancel_subscription(
    settings: Settings, subscription_id: str, at_period_end: bool
) -> dict[str, Any]:
    """Cancel a subscription now, or at the end of its paid period; the result as a plain dict."""
    # No fixed idempotency key: one reused within Stripe's 24 h window would replay a stale
    # answer after the gift was resumed. The library adds a generated key to the update (kept
    # across its own retries), and a retried cancel can only end the same subscription again.
    client = _client(settings)
    try:
        if at_period_end:
            subscription = client.v1.subscriptions.update(
                subscription_id, params={"cancel_at_period_end": True}
            )
        else:
            subscription = client.v1.subscriptions.cancel(subscription_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "subscription cancel") from exc
    return _as_sent(subscription)


# -- supporters' own accounts (membership.account) ---------------------------------------


def create_portal_session(settings: Settings, customer_id: str, return_url: str) -> str:
    """Open a Stripe Customer Portal session for one customer; the URL to send them to.

    No fixed idempotency key: each press opens a new short-lived session (the library sets
    a generated key, kept across its own retries of this one call)."""
    client = _client(settings)
    try:
        answer = client.raw_request(
            "post", "/v1/billing_portal/sessions", customer=customer_id, return_url=return_url
        )
    except stripe.StripeError as exc:
        raise _translate(exc, "portal session create") from exc
    return str(json.loads(answer.body)["url"])


def _update_subscription(
    settings: Settings,
    subscription_id: str,
    params: dict[str, Any],
    idempotency_key: str,
    action: str,
) -> dict[str, Any]:
    client = _client(settings)
    try:
        subscription = client.v1.subscriptions.update(
            subscription_id,
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as exc:
        raise _translate(exc, action) from exc
    return _as_sent(subscription)


def change_subscription_amount(
    settings: Settings,
    subscription_id: str,
    amount_minor: int,
    currency: str,
    frequency: str,
    idempotency_key: str,
) -> dict[str, Any]:
    """Charge ``amount_minor`` from the next invoice on (no proration): the subscription's
    one item gets a new price of the same product and interval."""
    client = _client(settings)
    try:
        subscription = client.v1.subscriptions.retrieve(subscription_id)
    except stripe.StripeError as exc:
        raise _translate(exc, "subscription retrieve") from exc
    item = _as_sent(subscription)["items"]["data"][0]
    price_data = {
        "currency": currency.lower(),
        "unit_amount": amount_minor,
        "product": product_for(settings, frequency),
        "recurring": {"interval": _INTERVALS[frequency]},
    }
    params = {
        "items": [{"id": item["id"], "price_data": price_data}],
        "proration_behavior": "none",
    }
    return _update_subscription(
        settings, subscription_id, params, idempotency_key, "subscription amount change"
    )


def pause_subscription(
    settings: Settings, subscription_id: str, resumes_at: int, idempotency_key: str
) -> dict[str, Any]:
    """Stop collecting payments until ``resumes_at`` (Unix seconds), or until resumed:
    the invoices of the paused periods are voided, so nothing is owed for them."""
    params = {"pause_collection": {"behavior": "void", "resumes_at": resumes_at}}
    return _update_subscription(settings, subscription_id, params, idempotency_key, "pause")


def resume_subscription(
    settings: Settings, subscription_id: str, idempotency_key: str
) -> dict[str, Any]:
    """Collect payments again after a pause."""
    params = {"pause_collection": ""}
    return _update_subscription(settings, subscription_id, params, idempotency_key, "resume")


def delete_customer(settings: Settings, customer_id: str) -> None:
    """Ask Stripe to delete a customer (a supporter's erasure): their email, name, address
    and saved cards go, and any subscription still running ends at once. A customer
    already gone counts as deleted. (A DELETE is idempotent at Stripe: no key needed.)"""
    client = _client(settings)
    try:
        client.v1.customers.delete(customer_id)
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            raise _translate(exc, "customer delete") from exc
    except stripe.StripeError as exc:
        raise _translate(exc, "customer delete") from exc


def cancel_subscription_at_period_end(
    settings: Settings, subscription_id: str, idempotency_key: str
) -> dict[str, Any]:
    """End the subscription when its paid period ends, with a fixed idempotency key (one per
    supporter's request, so a retried request is answered once)."""
    params = {"cancel_at_period_end": True}
    return _update_subscription(
        settings, subscription_id, params, idempotency_key, "subscription cancel at period end"
    )
