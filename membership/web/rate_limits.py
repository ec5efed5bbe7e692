"""Keys for Flask-Limiter's counts that name no one.

The limiter's storage (Redis in production) holds one count per key: keyed hashes of the
client's address or a reader's email, so it never holds the address or the email itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse_many

from membership.extensions import limiter

log = logging.getLogger(__name__)


def keyed_hash(namespace: str, value: str) -> str:
    """``namespace:`` and an HMAC of ``value`` under the app's SECRET_KEY."""
    key = current_app.config["SECRET_KEY"].encode()
    return f"{namespace}:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def client_address_key(namespace: str) -> str:
    """The key of the client's address (as ProxyFix gives it behind our proxies)."""
    return keyed_hash(namespace, get_remote_address())


def within_quiet_limit(namespace: str, value: str, limits: str) -> bool:
    """Count one use of ``value`` (an email) against ``limits`` under its keyed hash; False
    when over them. For limits whose answer must not differ when reached: a decorator's
    429 and rate-limit headers would tell anyone that this address was used lately, so the
    caller accepts and drops instead. A store that fails lets the use in (logged): the
    per-address limit still holds."""
    if not limiter.enabled:
        return True
    key = keyed_hash(namespace, value)
    try:
        return all([limiter.limiter.hit(limit, key) for limit in parse_many(limits)])  # each
    except Exception:  # noqa: BLE001 - the store is down: let it in, and say so
        log.exception("%s: the rate limit storage failed", namespace)
        return True
