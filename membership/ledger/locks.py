"""Advisory locks on what an event is about, so that events about one thing queue up.

Each handler names the payment intents, invoices, subscriptions, customers, emails
and checkout sessions its event touches (``hold``) before reading any of them; a
thing learnt from the database on the way (a renewal's payment intent) is locked as
soon as it is known. On PostgreSQL these are transaction-level advisory locks, taken
in a stable order in one statement and released at commit, so events about different
things never wait for each other. SQLite lets one writer in at a time: nothing to do.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import BigInteger, Connection, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from membership.sql import statements

# Connection.info key: (the transaction, the lock ids it holds), so a lock is taken once.
_HELD = "membership.ledger_locks"

_TAKE_LOCKS = statements.Statement(
    text(
        "SELECT count(pg_advisory_xact_lock(key)) FROM unnest(:keys) WITH ORDINALITY AS t(key, n)"
    ).bindparams(bindparam("keys", type_=ARRAY(BigInteger)))
)


def _lock_id(name: str) -> int:
    """A stable signed 64-bit id for a name (PostgreSQL's advisory lock key space)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_ids(things: dict[str, str | None]) -> list[int]:
    """The advisory lock ids of the named things, in the order they must be taken."""
    return sorted({_lock_id(f"{kind}:{value}") for kind, value in things.items() if value})


def _held(connection: Connection) -> set[int]:
    return statements.of_transaction(connection, _HELD, set)


def mark_held(connection: Connection, ids: list[int]) -> None:
    """Record locks taken by another statement (the event's insert takes its event's)."""
    _held(connection).update(ids)


def hold(**things: str | None) -> None:
    """Lock each named thing for the rest of the transaction (``payment_intent="pi_..."``):
    for things learnt on the way; those an event names are locked as it is stored."""
    hold_ids(lock_ids(things))


def hold_each(kind: str, values: list[str | None]) -> None:
    """Lock several things of one kind (the payments of a subscription)."""
    hold_ids(sorted({_lock_id(f"{kind}:{value}") for value in values if value}))


def hold_ids(ids: list[int]) -> None:
    """Take these locks (in this order: ascending, so that two events never wait for each
    other in a cycle over the things they name up front), unless already held."""
    connection = statements.connection()
    if connection.dialect.name != "postgresql":
        return
    held = _held(connection)
    wanted = [lock_id for lock_id in ids if lock_id not in held]
    if wanted:
        _TAKE_LOCKS.run(keys=wanted)
        held.update(wanted)
