"""Receiving Stripe events: verify, store once, process in one transaction.

Each event is inserted under Stripe's id (a primary key, so a second delivery,
even a concurrent one, cannot insert it again) and handled in the same
transaction. When a handler fails, the transaction is rolled back, the event is
kept with the error (in a transaction of its own), and the caller answers 500 so
Stripe retries.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

from membership import clock, stripe_gateway
from membership.config import Settings
from membership.database import (
    describe_error,
    is_write_conflict,
    run_ledger_transaction,
    scrub_after_erasure,
)
from membership.extensions import db
from membership.ledger import erased, locks, supporters
from membership.models import StripeEvent
from membership.sql import rows, statements
from membership.webhooks import payloads
from membership.webhooks.handlers import (
    HANDLERS,
    RetryLater,
    look_up_ahead,
    needs_looking_up,
    subjects_of,
)

log = logging.getLogger(__name__)
EVENTS = StripeEvent.__table__

MAX_BODY_BYTES = 1024 * 1024


class Outcome(enum.Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    FAILED = "failed"


class InvalidEvent(ValueError):
    """The body is not a signed, well-formed Stripe event; retrying will not help."""


@dataclass(frozen=True)
class Received:
    event_id: str
    outcome: Outcome


def parse_verified_event(settings: Settings, body: bytes, signature: str | None) -> dict[str, Any]:
    """Verify the signature on the raw body, then parse it as a plain dict.

    :raise InvalidEvent: not signed by Stripe, not JSON, or not an event we can store
        (``check_event``).
    """
    try:
        stripe_gateway.verify_webhook_signature(body, signature, settings.stripe_webhook_secrets)
    except stripe_gateway.InvalidSignature as exc:
        raise InvalidEvent(f"signature: {exc}") from exc
    try:
        event = json.loads(body)
    except RecursionError as exc:  # deeper than Python's JSON parser goes
        raise InvalidEvent(f"JSON nested deeper than {payloads.MAX_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent("body is not JSON") from exc
    # A lone surrogate can only come from a \uD800-\uDFFF escape in the body: without
    # one, no string needs looking at (most events; the walk costs every event).
    check_event(event, strings=_SURROGATE_ESCAPE.search(body) is not None)
    return event


# The envelope's strings and their columns' lengths (models.StripeEvent).
_ENVELOPE_TEXTS = {"id": 255, "type": 100, "api_version": 50}


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def check_event(event: Any, *, strings: bool = True) -> None:
    """Refuse what is not a Stripe event that can be stored and processed, whether it came
    signed to the webhook or from the Events API (sync): retrying it cannot help.

    :raise InvalidEvent: with the reason, when ``id``, ``type``, ``created`` or
        ``data.object`` is missing or unusable, or the JSON is nested too deep or holds a
        lone surrogate (``payloads.unstorable``).
    """
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and type(event.get("created")) is int
        and isinstance((event.get("data") or {}).get("object"), dict)
    ):
        raise InvalidEvent("not a Stripe event (id, type, created, data.object)")
    problem = payloads.unstorable(event, strings=strings)
    if problem is not None:
        raise InvalidEvent(problem)
    for field, longest in _ENVELOPE_TEXTS.items():
        text = event.get(field)
        if field == "api_version" and text is None:
            continue
        if not isinstance(text, str) or not 0 < len(text) <= longest or "\x00" in text:
            raise InvalidEvent(f"{field} is not text of 1 to {longest} characters")
    created_at(event)


def created_at(event: dict[str, Any]) -> datetime:
    """When Stripe created the event (its ``created``, seconds since 1970), in UTC.

    :raise InvalidEvent: when no date has that many seconds (year 1 to 9999).
    """
    try:
        return datetime.fromtimestamp(event["created"], UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidEvent(f"created {event['created']} is not a time") from exc


def expected_livemode(settings: Settings) -> bool | None:
    """The mode of the configured secret key, or None when no key says."""
    key = settings.stripe_secret_key or ""
    if key.startswith(("sk_live_", "rk_live_")):
        return True
    if key.startswith(("sk_test_", "rk_test_")):
        return False
    return None


def receive_event(settings: Settings, event: dict[str, Any]) -> Received:
    """Store a verified event once and process it; a duplicate changes nothing. The event
    has passed ``check_event`` (``parse_verified_event``, ``receive_listed_event``).

    ``event`` (parsed from the body, the caller's to give away) loses its card, billing and
    contact details first (``payloads``): what is processed is what is stored."""
    event_id = event["id"]
    livemode = bool(event.get("livemode"))
    mode = expected_livemode(settings)
    ignored = mode is not None and livemode != mode
    payloads.without_personal_details(event)
    now = clock.now()
    row = {
        "id": event_id,
        "type": event["type"],
        "created": created_at(event),
        "livemode": livemode,
        "api_version": event.get("api_version"),
        "payload": payloads.payload_to_store(event, kept=not ignored and event["type"] in HANDLERS),
        "received_at": now,
    }
    # Stored as processed, in the transaction that processes it: if the handler fails the
    # whole transaction rolls back and the failure is recorded on its own (_record_failure).
    outcome_values = (
        {"status": "ignored", "attempts": 0}
        if ignored
        else {"status": "processed", "processed_at": now, "attempts": 1}
    )

    if not ignored:
        try:
            _look_up_ahead(event)
        except Exception as exc:  # noqa: BLE001 - as a handler's failure: keep the event
            return _fail_before_processing(row, exc)
    lock_ids = [] if ignored else _lock_ids(event)

    def store_and_process(connection: Connection) -> Received:
        if not _insert_event(connection, {**row, **outcome_values}, lock_ids):
            connection.rollback()
            return _process_again_if_unfinished(connection, row, event, lock_ids)
        if ignored:
            log.warning(
                "stripe event %s ignored: livemode=%s does not match the key", event_id, livemode
            )
            connection.commit()
            return Received(event_id, Outcome.IGNORED)
        return Received(event_id, _handle_and_commit(connection, row, event, lock_ids))

    return run_ledger_transaction(db.engine, store_and_process)


def _look_up_ahead(event: dict[str, Any], *, unless_processed: bool = True) -> None:
    """What the handler needs from Stripe, asked before the ledger transaction (a network
    call there would hold its locks, and on SQLite every writer, for as long as it takes);
    by default nothing for an event processed already (a redelivery, answered duplicate)."""
    if not needs_looking_up(event["type"]):
        return
    try:
        if not unless_processed or _stored_status(event["id"]) != "processed":
            look_up_ahead(event["type"], event["data"]["object"])
    finally:
        db.session.rollback()  # end the read transaction of the look-ups


def _stored_status(event_id: str) -> str | None:
    return db.session.scalar(select(StripeEvent.status).where(StripeEvent.id == event_id))


def _fail_before_processing(row: dict[str, Any], error: Exception) -> Received:
    """Keep an event that whose look-ups failed as failed (500: Stripe retries), unless an
    earlier delivery processed it already. Called while ``error`` is being handled."""
    if isinstance(error, RetryLater):
        log.warning("stripe event %s (%s) not processed yet: %s", row["id"], row["type"], error)
    elif isinstance(error, DBAPIError):  # no traceback: it would quote the database's detail
        log.error("stripe event %s (%s) failed: %s", row["id"], row["type"], describe_error(error))
    else:
        log.exception("stripe event %s (%s) failed before processing", row["id"], row["type"])

    def keep(connection: Connection) -> Received:
        failed = _record_failure(connection, row, describe_error(error))
        return Received(row["id"], Outcome.FAILED if failed else Outcome.DUPLICATE)

    return run_ledger_transaction(db.engine, keep)


def _lock_ids(event: dict[str, Any]) -> list[int]:
    """The locks on what the event is about, taken as it is stored (PostgreSQL; SQLite's
    single writer needs none)."""
    if db.engine.dialect.name != "postgresql":
        return []
    return locks.lock_ids(subjects_of(event["type"], event["data"]["object"]))


def _insert_event(
    connection: Connection, values: dict[str, Any], lock_ids: list[int] | None = None
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True when this delivery stored the event. On
    PostgreSQL the same statement first takes the advisory locks ``lock_ids``."""
    if lock_ids and connection.dialect.name == "postgresql":
        stored = _INSERT_EVENT_LOCKING.first(**values, lock_ids=lock_ids) is not None
        locks.mark_held(connection, lock_ids)
        return stored
    statement = rows.insert_ignoring(
        connection.dialect.name, EVENTS, frozenset(values), whole_row=False
    )
    return statement.first(**values) is not None


# INSERT INTO stripe_events SELECT :values FROM (SELECT count(pg_advisory_xact_lock(id))
# FROM unnest(:lock_ids)) ON CONFLICT DO NOTHING RETURNING id: the locks, in the order
# given, then the insert, in one round trip.
_LOCK_IDS = (
    func.unnest(bindparam("lock_ids", type_=ARRAY(BigInteger)))
    .table_valued("lock_id", with_ordinality="position")
    .render_derived(name="lock_ids")
)
_LOCKED = (
    select(func.count(func.pg_advisory_xact_lock(_LOCK_IDS.c.lock_id)).label("locked"))
    .select_from(_LOCK_IDS)
    .subquery("locks")
)
_EVENT_COLUMNS = ("id", "type", "created", "livemode", "api_version", "payload", "received_at")
_INSERT_EVENT_LOCKING = statements.Statement(
    postgresql.insert(EVENTS)
    .from_select(
        [*_EVENT_COLUMNS, "processed_at", "status", "attempts"],
        select(
            *(bindparam(name, type_=EVENTS.c[name].type) for name in _EVENT_COLUMNS),
            bindparam("processed_at", type_=EVENTS.c.processed_at.type),
            bindparam("status", type_=EVENTS.c.status.type),
            bindparam("attempts", type_=EVENTS.c.attempts.type),
        ).select_from(_LOCKED),
    )
    .on_conflict_do_nothing()
    .returning(EVENTS.c.id)
)


_CLAIM = (
    update(EVENTS)
    .where(EVENTS.c.id == bindparam("event_id"))
    .values(
        status="processed",
        processed_at=bindparam("processed_at"),
        attempts=EVENTS.c.attempts + 1,
        last_error=None,
    )
    .returning(EVENTS.c.id)
)
_CLAIM_FAILED = _CLAIM.where(EVENTS.c.status == "failed")
_RECORD_FAILURE = (
    update(EVENTS)
    .where(EVENTS.c.id == bindparam("event_id"), EVENTS.c.status != "processed")
    .values(
        status="failed",
        processed_at=None,
        attempts=EVENTS.c.attempts + 1,
        last_error=bindparam("error"),
    )
)


def _claim(connection: Connection, event_id: str, *, only_failed: bool) -> bool:
    """Mark a stored event processed for this attempt, taking its row (or SQLite's write) lock.

    Two concurrent retries of a failed event therefore run one after the other: the
    second finds it processed and does nothing.
    """
    claimed = connection.execute(
        _CLAIM_FAILED if only_failed else _CLAIM,
        {"event_id": event_id, "processed_at": clock.now()},
    ).scalar()
    return claimed is not None


def _process_again_if_unfinished(
    connection: Connection, row: dict[str, Any], event: dict[str, Any], lock_ids: list[int]
) -> Received:
    """A repeated delivery: done if processed, else processed again (Stripe's retry)."""
    if not _claim(connection, row["id"], only_failed=True):
        connection.rollback()
        return Received(row["id"], Outcome.DUPLICATE)
    return Received(row["id"], _handle_and_commit(connection, row, event, lock_ids))


def _handle_and_commit(
    connection: Connection, row: dict[str, Any], event: dict[str, Any], lock_ids: list[int]
) -> Outcome:
    """Run the event's handler in the open transaction; commit it, or roll it all back."""
    handler = HANDLERS.get(event["type"])
    try:
        if handler is not None:
            locks.hold_ids(lock_ids)  # already held when the insert of the event took them
            erased.named_in(connection)  # nothing left over from an earlier transaction
            handler(event["data"]["object"], created_at(event))
            if erased.named_in(connection):
                _forget_payload(connection, row["id"])
        statements.commit(connection)
    except Exception as exc:  # noqa: BLE001 - any handler failure must keep the event
        connection.rollback()
        if is_write_conflict(exc):
            raise  # a deadlock, not a failure of this event: run_ledger_transaction retries
        error = describe_error(exc)
        if isinstance(exc, DBAPIError):
            # No traceback: its last line would repeat the database's own detail, which can
            # quote a supporter's email ("Key (email)=(...) already exists").
            log.error("stripe event %s (%s) failed: %s", row["id"], event["type"], error)
        else:
            log.exception("stripe event %s (%s) failed", row["id"], event["type"])
        _record_failure(connection, row, error[:2000])
        return Outcome.FAILED
    return Outcome.PROCESSED


def _forget_payload(connection: Connection, event_id: str) -> None:
    """The event named a customer erased at their request (``ledger.erased``): the ledger
    recorded no email of theirs, and the event's stored payload keeps none either."""
    connection.execute(
        update(EVENTS).where(EVENTS.c.id == event_id).values(payload=payloads.NO_PAYLOAD)
    )


def _record_failure(connection: Connection, row: dict[str, Any], error: str) -> bool:
    """Keep the event, unprocessed, with the error and one more attempt counted; False when
    it was processed already (by a concurrent delivery), which then stays as it is."""
    _insert_event(connection, {**row, "status": "failed", "attempts": 0})
    recorded = connection.execute(_RECORD_FAILURE, {"event_id": row["id"], "error": error})
    connection.commit()
    return recorded.rowcount > 0


class UnknownEvent(LookupError):
    """No stored event has that id, or none that can be processed again (the message says)."""


def replay_event(event_id: str) -> Outcome:
    """Process a stored event again (after a fix, or to re-check); handlers are idempotent."""
    stored = db.session.get(StripeEvent, event_id)
    if stored is None:
        raise UnknownEvent(f"no stored event {event_id}")
    if stored.status == "ignored":
        raise UnknownEvent(f"cannot replay {event_id}: ignored, its livemode is not the key's")
    if stored.payload == payloads.NO_PAYLOAD:
        why = "its payload was forgotten" if stored.type in HANDLERS else "no handler reads it"
        raise UnknownEvent(f"cannot replay {event_id}: {why}")
    event = json.loads(stored.payload)
    row = {
        "id": stored.id,
        "type": stored.type,
        "created": stored.created,
        "livemode": stored.livemode,
        "api_version": stored.api_version,
        "payload": stored.payload,
        "received_at": stored.received_at,
    }
    db.session.rollback()
    _look_up_ahead(event, unless_processed=False)  # RetryLater: nothing changed; try again later

    def replay(connection: Connection) -> Outcome:
        _claim(connection, event_id, only_failed=False)
        return _handle_and_commit(connection, row, event, _lock_ids(event))

    return run_ledger_transaction(db.engine, replay)


def settled_event_ids(event_ids: list[str]) -> set[str]:
    """Which of these events need nothing more (for sync): stored and processed, or
    ignored for their mode. One stored as failed is not among them: it is processed again,
    as Stripe's own retry of it would be."""
    if not event_ids:
        return set()
    return set(
        db.session.scalars(
            select(StripeEvent.id).where(
                StripeEvent.id.in_(event_ids), StripeEvent.status.in_(("processed", "ignored"))
            )
        )
    )


def receive_listed_event(settings: Settings, event: dict[str, Any]) -> Received:
    """An event listed by Stripe's Events API (sync), checked and received as the same
    event delivered to the webhook would be.

    :raise InvalidEvent: when it is not one we can store (``check_event``).
    """
    check_event(event)
    return receive_event(settings, event)


def forget_payloads(older_than: timedelta) -> int:
    """Blank the payloads of settled events received longer ago than ``older_than``.

    Payloads carry names, emails and addresses; once an event is processed the ledger
    holds what we need, and after 30 days Stripe cannot resend it anyway. The event row
    (id, type, times, status) stays, so duplicates are still recognised. Email changes
    that waited for a customer's first gift (``ledger.supporters``) go too.
    """
    cutoff = clock.now() - older_than
    forgotten = db.session.execute(
        update(StripeEvent)
        .where(
            StripeEvent.received_at < cutoff,
            StripeEvent.status.in_(("processed", "ignored")),
            StripeEvent.payload != payloads.NO_PAYLOAD,
        )
        .values(payload=payloads.NO_PAYLOAD)
        .returning(StripeEvent.id)
        .execution_options(synchronize_session=False)
    ).all()
    # Email changes of customers who never gave are kept no longer than the events were.
    supporters.forget_pending_emails(cutoff)
    db.session.commit()
    scrub_after_erasure(db.session, ("stripe_events", "pending_customer_emails"))
    return len(forgotten)
