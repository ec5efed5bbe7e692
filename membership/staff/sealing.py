"""TOTP secrets kept sealed: encrypted and authenticated under a key the database never holds.

A staff member's TOTP secret is their second factor. Kept as is, whoever reads the
database (a leaked backup, a stolen disk, an injection) could make their codes, and while
they enrol it sat readable in the session cookie (Flask signs the cookie, it does not
encrypt it). Sealed, it is useless without ``SECRET_KEY``, which lives in the
environment, never in the database.

The key is derived from ``SECRET_KEY`` with HKDF-SHA256 under a label of its own, so it
is never the key that signs sessions. ``SECRET_KEY_FALLBACKS`` (Flask's list of earlier
keys) still opens what was sealed before a rotation; such a secret is sealed again under
the current key the next time it is used. Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) does the sealing: a fresh IV each time, and any change to a sealed value
makes it unreadable instead of wrong. Each value is sealed together with the account it
belongs to (``for_account``), so a sealed secret copied onto another account (by someone
who can write to the database) does not open there.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from membership.config import Settings

_LABEL = b"membership: staff TOTP secrets, v1"


class Unreadable(ValueError):
    """Sealed under a key no longer configured, or altered since it was sealed."""


def seal(settings: Settings, secret: str, *, for_account: int) -> str:
    """``secret`` of staff account ``for_account``, sealed under the current key (a
    different value every time)."""
    plain = f"{for_account}:{secret}".encode()
    return _keys(_key_list(settings)).encrypt(plain).decode("ascii")


def unseal(settings: Settings, sealed: str, *, for_account: int) -> str:
    """The secret inside ``sealed``, opened with the current key or a fallback, if it was
    sealed for this account."""
    try:
        plain = _keys(_key_list(settings)).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise Unreadable("sealed under another SECRET_KEY, or altered") from exc
    account, _, secret = plain.partition(":")
    if account != str(for_account):
        raise Unreadable("sealed for another account")
    return secret


def sealed_under_current_key(settings: Settings, sealed: str) -> bool:
    """False for a value sealed under a fallback key: time to seal it again."""
    try:
        _fernet(settings.secret_key).decrypt(sealed.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


def _key_list(settings: Settings) -> tuple[str, ...]:
    return (settings.secret_key, *settings.secret_key_fallbacks)


@lru_cache(maxsize=4)
def _keys(secret_keys: tuple[str, ...]) -> MultiFernet:
    """The current key first (it seals), then the fallbacks (they only open)."""
    return MultiFernet([_fernet(key) for key in secret_keys])


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))
