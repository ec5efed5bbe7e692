"""The two baselines for ``webhooks.py``: a bare Flask POST route and a minimal durable webhook.

Both answer on ``/stripe/webhook`` so that every server receives byte-identical
requests. The durable webhook does only what any webhook that must not lose an
event has to do (verify the signature, parse, insert the event row, commit),
with the membership app's own signature check, engine options and SQLite
pragmas, so the gap to the full path is what verifying, storing and processing
costs beyond that floor. On SQLite its writers queue on the app's writer turn
(``ledger_writer_turn``) as the app's do: left to SQLite's busy handler, which
sleeps 1, 2, 5 ms and more between tries, they spent much of a burst asleep, and
that floor moved by half between rounds.

Settings come from the same environment as the app: ``DATABASE_URL`` and
``STRIPE_WEBHOOK_SECRET``. Serve with ``gunicorn benchmarks.webhook_baselines:bare_app``
(or ``:durable_app``) from the project root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Flask, request
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, Text, create_engine

import membership.database  # noqa: F401  (its listeners set the SQLite pragmas and BEGIN)
from membership import stripe_gateway
from membership.config import with_postgres_driver

PATH = "/stripe/webhook"
# The app's SQLALCHEMY_ENGINE_OPTIONS (membership/__init__.py); Flask-SQLAlchemy adds
# nothing else for a SQLite file or PostgreSQL.
ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}

metadata = MetaData()
baseline_events = Table(
    "benchmark_webhook_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def database_url(environ: Mapping[str, str] = os.environ) -> str:
    """The app's DATABASE_URL, with the driver the app would pick for PostgreSQL."""
    url = with_postgres_driver(environ.get("DATABASE_URL", ""))
    if not url:
        raise RuntimeError("Set DATABASE_URL to the database the baseline should write to.")
    return url


def create_table(url: str) -> None:
    """Create the baseline's table once, before gunicorn starts (workers would race)."""
    engine = create_engine(url, **ENGINE_OPTIONS)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


@cache
def _engine() -> Engine:
    # Built on first use in each gunicorn worker, so importing this module needs no settings.
    return create_engine(database_url(), **ENGINE_OPTIONS)


@cache
def _webhook_secrets() -> tuple[str, ...]:
    raw = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    return tuple(secret.strip() for secret in raw.split(",") if secret.strip())


bare_app = Flask("bare_webhook")


@bare_app.post(PATH)
def bare_webhook() -> tuple[str, int]:
    """The least Flask can do to answer a POST: the ceiling for any webhook."""
    return "", 200


durable_app = Flask("durable_webhook")


@durable_app.post(PATH)
def durable_webhook() -> tuple[dict[str, str], int]:
    """Verify, parse, insert, commit: the floor for a webhook that never loses an event."""
    body = request.get_data()
    try:
        stripe_gateway.verify_webhook_signature(
            body, request.headers.get("Stripe-Signature"), _webhook_secrets()
        )
    except stripe_gateway.InvalidSignature as exc:
        return {"error": str(exc)}, 400
    event = json.loads(body)
    with membership.database.ledger_writer_turn(_engine().url), _engine().begin() as conn:
        conn.execute(
            baseline_events.insert().values(
                id=event["id"],
                type=event["type"],
                payload=body.decode("utf-8"),
                received_at=datetime.now(UTC),
            )
        )
    return {"id": event["id"]}, 200


def store_only_app() -> Flask:
    """The membership app with every event handler replaced by one that does nothing.

    Each event is verified, parsed, stripped of personal details, locked and stored as the
    app stores it, then committed with nothing processed: what the app costs before its
    handlers, so that ``webhook_cpu.py`` can tell that apart from what processing costs.
    Never for serving Stripe (an event stored as processed here was not). Serve with
    ``gunicorn 'benchmarks.webhook_baselines:store_only_app()'``.
    """
    from membership import create_app
    from membership.webhooks import handlers

    app = create_app()
    for event_type in handlers.HANDLERS:  # in place: the webhook service holds this dict
        handlers.HANDLERS[event_type] = _process_nothing
    return app


def _process_nothing(obj: dict[str, Any], created: datetime) -> None:
    """A handler that leaves the ledger as it is."""
