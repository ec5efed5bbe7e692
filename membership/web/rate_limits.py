"""Keys for Flask-Limiter's counts that name no one.

The limiter's storage (Redis in production) holds one count per key: keyed hashes of the
client's address or a reader's email, so it never holds the address or the email itself.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from flask_limiter.util import get_remote_address


def keyed_hash(namespace: str, value: str) -> str:
    """``namespace:`` and an HMAC of ``value`` under the app's SECRET_KEY."""
    key = current_app.config["SECRET_KEY"].encode()
    return f"{namespace}:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def client_address_key(namespace: str) -> str:
    """The key of the client's address (as ProxyFix gives it behind our proxies)."""
    return keyed_hash(namespace, get_remote_address())
