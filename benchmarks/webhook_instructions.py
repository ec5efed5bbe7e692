"""CPU instructions per Stripe event, full webhook path against the minimal durable webhook.

``webhooks.py`` measures events per second under gunicorn, which on a shared machine
moves by a third between rounds. This counts instructions instead (valgrind's
callgrind): the same for the same code whatever else the machine is doing, so a change
of a few per cent shows. Both targets run in-process through Flask's test client, on
SQLite (everything runs in the process, so everything is counted), with the events
and checkout attempts of ``webhooks.py``'s mix. Each target runs twice, with 100 and
with 100 + N events after the same warm-up; the difference over N is the cost of one
event, without start-up and imports.

    .venv/bin/python benchmarks/webhook_instructions.py [--events N]

Needs ``valgrind`` (Debian's package); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks import webhooks  # noqa: E402

WARM_UP = 100
SECRET = "whsec_instructions"
TARGETS = {"durable": "minimal durable webhook", "full": "full webhook path"}


def prepare(folder: Path, events: int) -> None:
    """The migrated database with the checkout attempts, and each target's events."""
    url = f"sqlite:///{folder / 'template.sqlite3'}"
    webhooks.prepare_schema(webhooks.server_environment(url, SECRET))
    for target in TARGETS:
        mix = webhooks.EventMix(f"i{target[0]}", seed=7)
        (folder / f"{target}.json").write_text(json.dumps(mix.bodies(WARM_UP + events)))
        webhooks.store_attempts(url, mix)


def deliver(folder: Path, target: str, events: int) -> None:
    """Post the warm-up and ``events`` more to the target, in this process."""
    work = Path(tempfile.mkdtemp(dir=folder))
    shutil.copy(folder / "template.sqlite3", work / "db.sqlite3")
    os.environ.update(webhooks.server_environment(f"sqlite:///{work / 'db.sqlite3'}", SECRET))
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


def instructions(folder: Path, target: str, events: int) -> int:
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
    parser.add_argument("--deliver", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliver:
        folder, target, events = args.deliver
        deliver(Path(folder), target, int(events))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder, args.events)
        runs = [(target, n) for target in TARGETS for n in (0, args.events)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(
                zip(runs, pool.map(lambda run: instructions(folder, *run), runs), strict=True)
            )
    per_event = {t: (counts[(t, args.events)] - counts[(t, 0)]) / args.events for t in TARGETS}
    print(f"instructions per event, SQLite, in-process ({args.events} events after {WARM_UP})")
    for target, name in TARGETS.items():
        share = per_event["durable"] / per_event[target]
        print(f"  {name:<26} {per_event[target]:>12,.0f}   durable / this: {share:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
