"""CPU instructions per Stripe event, full webhook path against the minimal durable webhook.

``webhooks.py`` measures events per second under gunicorn, which on a shared machine
moves by a third between rounds. This counts instructions instead (valgrind's
callgrind): the same for the same code whatever else the machine is doing, so a change
of a few per cent shows. Both targets run in-process through Flask's test client, with
the events and checkout attempts of ``webhooks.py``'s mix. On SQLite everything runs in
the process, so everything is counted; on PostgreSQL only the app's side is (the
server's work comes on top). Each target runs twice, with 100 and with 100 + N events
after the same warm-up; the difference over N is the cost of one event, without
start-up and imports.

    .venv/bin/python benchmarks/webhook_instructions.py [--events N]
        [--database sqlite|postgresql] [--postgres-admin-url URL]

Needs ``valgrind`` (Debian's package); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402

from benchmarks import webhooks  # noqa: E402

WARM_UP = 100
SECRET = "whsec_instructions"
TEMPLATE_DATABASE = "membership_bench_instructions"  # created and dropped here
TARGETS = {"durable": "minimal durable webhook", "full": "full webhook path"}


def template_url(folder: Path, admin_url: str | None) -> str:
    """The database every run starts from a copy of."""
    if admin_url is None:
        return f"sqlite:///{folder / 'template.sqlite3'}"
    return webhooks.postgres_url(admin_url, TEMPLATE_DATABASE)


def _admin(admin_url: str, *statements: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        for statement in statements:
            admin.execute(statement)  # type: ignore[arg-type]  # our own constant names


def prepare(folder: Path, events: int, admin_url: str | None) -> None:
    """The migrated database with the checkout attempts, and each target's events."""
    if admin_url is not None:
        _admin(
            admin_url,
            f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)',
            f'CREATE DATABASE "{TEMPLATE_DATABASE}"',
        )
    url = template_url(folder, admin_url)
    webhooks.prepare_schema(webhooks.server_environment(url, SECRET))
    for target in TARGETS:
        mix = webhooks.EventMix(f"i{target[0]}", seed=7)
        (folder / f"{target}.json").write_text(json.dumps(mix.bodies(WARM_UP + events)))
        webhooks.store_attempts(url, mix)


@contextlib.contextmanager
def copy_of_template(folder: Path, admin_url: str | None) -> Iterator[str]:
    """A fresh copy of the template database for one run, dropped after it."""
    if admin_url is None:
        work = Path(tempfile.mkdtemp(dir=folder))
        shutil.copy(folder / "template.sqlite3", work / "db.sqlite3")
        yield f"sqlite:///{work / 'db.sqlite3'}"
        return
    name = f"{TEMPLATE_DATABASE}_{secrets.token_hex(4)}"
    _admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DATABASE}"')
    try:
        yield webhooks.postgres_url(admin_url, name)
    finally:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def deliver(folder: Path, target: str, events: int, admin_url: str | None) -> None:
    """Post the warm-up and ``events`` more to the target, in this process."""
    with copy_of_template(folder, admin_url) as url:
        os.environ.update(webhooks.server_environment(url, SECRET))
        _post_events(folder, target, events)


def _post_events(folder: Path, target: str, events: int) -> None:
    if target == "full":
        from membership import create_app

        client = create_app().test_client()
    else:
        from benchmarks import webhook_baselines

        client = webhook_baselines.durable_app.test_client()
    key = SECRET.encode()
    for body in json.loads((folder / f"{target}.json").read_text())[: WARM_UP + events]:
        payload = body.encode()
        headers = {"Stripe-Signature": webhooks.sign(payload, key)}
        response = client.post("/stripe/webhook", data=payload, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{target}: HTTP {response.status_code} {response.data[:200]!r}")


def instructions(folder: Path, target: str, events: int, admin_url: str | None) -> int:
    """Instructions callgrind counts for a whole run of ``deliver``."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--deliver",
        str(folder),
        target,
        str(events),
        admin_url or "",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts every run
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"valgrind failed for {target}:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200, help="events counted (default 200)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-admin-url",
        default=webhooks.POSTGRES_ADMIN_URL,
        help=f"where to CREATE/DROP the {TEMPLATE_DATABASE}* databases",
    )
    parser.add_argument("--deliver", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliver:
        folder, target, events, admin_url = args.deliver
        deliver(Path(folder), target, int(events), admin_url or None)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    admin_url = args.postgres_admin_url if args.database == "postgresql" else None
    if admin_url is not None and (problem := webhooks.postgres_problem(admin_url)):
        print(f"PostgreSQL is not reachable: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder, args.events, admin_url)
        runs = [(target, n) for target in TARGETS for n in (0, args.events)]
        try:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                counted = pool.map(lambda run: instructions(folder, *run, admin_url), runs)
                counts = dict(zip(runs, counted, strict=True))
        finally:
            if admin_url is not None:
                _admin(admin_url, f'DROP DATABASE IF EXISTS "{TEMPLATE_DATABASE}" WITH (FORCE)')
    per_event = {t: (counts[(t, args.events)] - counts[(t, 0)]) / args.events for t in TARGETS}
    side = "SQLite" if admin_url is None else "PostgreSQL, the app's side only"
    print(f"instructions per event, {side}, in-process ({args.events} events after {WARM_UP})")
    for target, name in TARGETS.items():
        share = per_event["durable"] / per_event[target]
        print(f"  {name:<26} {per_event[target]:>12,.0f}   durable / this: {share:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
