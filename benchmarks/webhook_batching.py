"""What processing Stripe events in batches would save: an experiment for issue 3's goal.

Today each event is stored and processed in a transaction of its own, inside the request
(so a failure can be answered 500). This runs the same events, in-process and one after
the other, both ways: through ``receive_event`` one at a time, and stored and handled
100 per ledger transaction (the same handlers, locks and rollups, one commit and one
rollup write per batch), as a worker that processes stored events after answering 200
would. It is not a design: it calls the webhook service's private steps, handles no
failure and no duplicate. Each way runs in a process of its own on a fresh database.

    .venv/bin/python benchmarks/webhook_batching.py [--events N] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks import webhooks  # noqa: E402

SECRET = "whsec_batching"
WARM_UP = 300
BATCH = 100
WAYS = {"one": "one event per transaction (today)", "batch": f"{BATCH} events per transaction"}


def run(way: str, url: str, events: int) -> float:
    """Microseconds of wall time per event, after a warm-up, for one way."""
    webhooks.prepare_schema(webhooks.server_environment(url, SECRET))
    os.environ.update(webhooks.server_environment(url, SECRET))
    mix = webhooks.EventMix(f"w{way[0]}", seed=7)
    bodies = mix.bodies(WARM_UP + events)
    webhooks.store_attempts(url, mix)

    from membership import create_app
    from membership.config import current_settings
    from membership.database import run_ledger_transaction
    from membership.extensions import db
    from membership.webhooks import service

    with create_app().app_context():
        settings = current_settings()
        parsed = [(json.loads(body), body) for body in bodies]
        for event, _ in parsed[:WARM_UP]:
            service.receive_event(settings, event)
        measured = parsed[WARM_UP:]
        started = time.perf_counter()
        if way == "one":
            for event, _ in measured:
                service.receive_event(settings, event)
        else:
            for first in range(0, len(measured), BATCH):
                batch = measured[first : first + BATCH]
                run_ledger_transaction(db.engine, lambda conn, batch=batch: _process(conn, batch))
        return (time.perf_counter() - started) / len(measured) * 1e6


def _process(connection: Any, batch: list[tuple[dict[str, Any], str]]) -> None:
    from membership.ledger import locks
    from membership.sql import statements
    from membership.webhooks import handlers, service
    from membership.webhooks.payloads import payload_to_store, without_personal_details

    now = datetime.now(UTC)
    for event, _ in batch:
        row = {
            "id": event["id"],
            "type": event["type"],
            "created": datetime.fromtimestamp(event["created"], UTC),
            "livemode": False,
            "api_version": event.get("api_version"),
            "payload": payload_to_store(without_personal_details(event), kept=True),
            "received_at": now,
            "status": "processed",
            "processed_at": now,
            "attempts": 1,
        }
        service._insert_event(connection, row, service._lock_ids(event))
    for event, _ in batch:
        locks.hold_ids(service._lock_ids(event))
        created = datetime.fromtimestamp(event["created"], UTC)
        handlers.HANDLERS[event["type"]](event["data"]["object"], created)
    statements.commit(connection)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-admin-url", default=webhooks.POSTGRES_ADMIN_URL)
    parser.add_argument("--way", choices=tuple(WAYS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        print(run(args.way, args.url, args.events))
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in WAYS:  # a process each: the app registers engine listeners once
            if args.database == "sqlite":
                database = webhooks.sqlite_database(Path(tmp) / way)
            else:
                database = webhooks.postgres_database(args.postgres_admin_url)
            with database as url:
                (Path(tmp) / way).mkdir(exist_ok=True)
                command = [sys.executable, __file__, "--way", way, "--url", url]
                command += ["--events", str(args.events)]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise SystemExit(f"{way} failed:\n{done.stderr[-2000:]}")
                results[way] = float(done.stdout.strip().splitlines()[-1])
    print(f"wall time per event, {args.database}, in-process, {args.events} events in sequence")
    for way, name in WAYS.items():
        print(f"  {name:<36} {results[way]:>8,.0f} us   {results['one'] / results[way]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
