"""Stripe customers whose supporter was erased at their request: never written back.

Erasure (``membership.account.erasure``) deletes the supporter and asks Stripe to delete
the customer, but Stripe may still send an event about that customer afterwards (a
renewal paid just before, a retried ``customer.updated``), each naming the customer and
stating their email. The ledger consults this table before it would attach an email to
that customer (``supporters.find_or_create_supporter``, ``supporters.restate_email``),
and the webhook then keeps no payload of the event (``named_in``).

Only an HMAC of the customer id under ``SECRET_KEY`` is kept: the table says nothing about
who was erased, and cannot be joined to anything without the key. A key rotated away
(``SECRET_KEY_FALLBACKS`` emptied) makes its tombstones unrecognisable; a tombstone found
under a fallback key is written again under the current one.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from flask import current_app
from sqlalchemy import Connection, String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from membership import clock
from membership.columns import UTCDateTime
from membership.extensions import db
from membership.sql.rows import insert_ignoring
from membership.sql.statements import Statement, connection

_SALT = b"membership.erased-customer:"
# Connection.info key: the ledger transaction on this connection met an erased customer.
_NAMED = "membership.erased_customer_named"


class ErasedCustomer(db.Model):  # type: ignore[name-defined]
    """A tombstone: the keyed hash of an erased supporter's Stripe customer id."""

    __tablename__ = "erased_customers"

    customer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())


ERASED = ErasedCustomer.__table__
_FIND = Statement(select(ERASED.c.customer_key).where(ERASED.c.customer_key == bindparam("key")))


def customer_key(customer_id: str, secret_key: str) -> str:
    """What the tombstone keeps of a customer id: its HMAC-SHA256 under ``secret_key``."""
    digest = hmac.new(secret_key.encode(), _SALT + customer_id.encode(), hashlib.sha256)
    return digest.hexdigest()


def _secret_keys() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or ())]


def remember_erased(customer_id: str, now: datetime | None = None) -> None:
    """Add the customer's tombstone to the ORM session (the erasure's unit of work)."""
    key = customer_key(customer_id, current_app.config["SECRET_KEY"])
    if db.session.get(ErasedCustomer, key) is None:
        db.session.add(ErasedCustomer(customer_key=key, erased_at=now or clock.now()))


def is_erased(customer_id: str | None) -> bool:
    """Whether this customer's supporter was erased (inside the ledger's transaction)."""
    if not customer_id:
        return False
    current, *fallbacks = _secret_keys()
    if _FIND.first(key=customer_key(customer_id, current)) is not None:
        connection().info[_NAMED] = True
        return True
    for secret in fallbacks:
        if _FIND.first(key=customer_key(customer_id, secret)) is not None:
            # Known under a key being retired: keep it recognisable after the rotation.
            values = {"customer_key": customer_key(customer_id, current), "erased_at": clock.now()}
            insert_ignoring(connection().dialect.name, ERASED, frozenset(values)).first(**values)
            connection().info[_NAMED] = True
            return True
    return False


def named_in(transaction: Connection) -> bool:
    """Whether the ledger's work on this connection met an erased customer since last
    asked: the webhook then stores no payload of the event (it states their email).
    Noted here rather than checked for every event, which would cost the renewals' path
    a query; asking clears it."""
    return bool(transaction.info.pop(_NAMED, False))
