"""CPU per Stripe event under the webhook benchmark's load, by process: where the full
path's cost goes, and how much of it is processing.

``webhooks.py`` gives events per second. When every core is busy (the load's clients,
gunicorn and a local PostgreSQL share them, as on the 2-core machine it was written
on) that is one over the CPU an event costs everywhere, so this counts that CPU
instead, from ``/proc`` (Linux only): the clients', the app servers' and the local
PostgreSQL's. Three targets are served alike, with ``webhooks.py``'s settings and mix:

- the minimal durable webhook (verify, insert the event row, commit): the baseline;
- the app storing only (``webhook_baselines.store_only_app``): the membership app with
  every handler a no-op, so verify, parse, strip, lock and store as the app does;
- the full webhook path.

The second against the first is what the app costs before processing; the third
against the second is processing (handlers, ledger statements, rollups). The last line
says how much CPU per event processing may cost for the full path to reach the goal.

    .venv/bin/python benchmarks/webhook_cpu.py [--events N] [--rounds N]
        [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import statistics
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks import webhooks  # noqa: E402
from benchmarks.webhooks import DURABLE, FULL, Server, Target  # noqa: E402

STORE_ONLY = Target("store", "app, storing only", "benchmarks.webhook_baselines:store_only_app()")
TARGETS = (DURABLE, STORE_ONLY, FULL)
KINDS = ("clients", "app", "PostgreSQL", "other")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_ticks_by_kind(servers: list[Server]) -> collections.Counter[str]:
    """User and system CPU ticks so far of every process on the machine, by kind: the
    gunicorn masters and their workers (app), this script's other children (clients), the
    processes named ``postgres`` (PostgreSQL), the rest (kernel threads, anything else)."""
    masters = {server.process.pid for server in servers}
    me = os.getpid()
    ticks: collections.Counter[str] = collections.Counter()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                line = stat.read()
        except OSError:
            continue  # gone meanwhile
        name = line[line.index("(") + 1 : line.rindex(")")]
        fields = line[line.rindex(")") + 2 :].split()  # from the state, field 3, on
        pid, parent = int(entry), int(fields[1])
        if pid in masters or parent in masters:
            kind = "app"
        elif parent == me:
            kind = "clients"
        elif name.startswith("postgres"):
            kind = "PostgreSQL"
        else:
            kind = "other"
        ticks[kind] += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def measure_rounds(
    servers: list[Server], args: argparse.Namespace, secret: str, database_url: str
) -> dict[str, list[dict[str, float]]]:
    """Per round and target: events per second and microseconds of CPU per event by kind."""
    mixes = {s.target.key: webhooks.EventMix(f"c{s.target.key[0]}", seed=7) for s in servers}
    results: dict[str, list[dict[str, float]]] = {s.target.key: [] for s in servers}
    with ProcessPoolExecutor(max_workers=args.clients) as pool:
        for server in servers:  # warm-up: imports, pools, the first subscriptions
            bodies = mixes[server.target.key].bodies(max(args.events // 4, 200))
            webhooks.store_attempts(database_url, mixes[server.target.key])
            webhooks.measure(pool, server, bodies, args, secret, 30)
        for round_no in range(args.rounds):
            for server in servers if round_no % 2 == 0 else servers[::-1]:
                bodies = mixes[server.target.key].bodies(args.events)
                webhooks.store_attempts(database_url, mixes[server.target.key])
                before = cpu_ticks_by_kind(servers)
                rate, tally = webhooks.measure(pool, server, bodies, args, secret, 60)
                after = cpu_ticks_by_kind(servers)
                if tally.not_ok:
                    raise webhooks.BenchmarkError(f"{server.target.name}: {tally.examples}")
                per_event = {
                    kind: (after[kind] - before[kind]) / TICKS_PER_SECOND / tally.done * 1e6
                    for kind in KINDS
                }
                results[server.target.key].append({"rate": rate, **per_event})
            print(f"  round {round_no + 1}/{args.rounds} done", flush=True)
    return results


def report(name: str, results: dict[str, list[dict[str, float]]], goal: float) -> None:
    median = {
        key: {column: statistics.median(r[column]) for column in ("rate", *KINDS)}
        for key, rounds in results.items()
        for r in [{column: [one[column] for one in rounds] for column in ("rate", *KINDS)}]
    }
    total = {key: sum(values[kind] for kind in KINDS) for key, values in median.items()}
    print(f"\n{name}: CPU per event in us, medians of rounds, on {os.cpu_count()} CPUs")
    header = f"{'target':<24} {'events/s':>9}" + "".join(f" {k:>10}" for k in KINDS)
    header += f" {'total':>7} {'baseline/total':>15}"
    print(header)
    print("-" * len(header))
    for target in TARGETS:
        values = median[target.key]
        print(
            f"{target.name:<24} {values['rate']:>9,.0f}"
            + "".join(f" {values[kind]:>10,.0f}" for kind in KINDS)
            + f" {total[target.key]:>7,.0f} {total[DURABLE.key] / total[target.key]:>15.0%}"
        )
    processing = {kind: median[FULL.key][kind] - median[STORE_ONLY.key][kind] for kind in KINDS}
    print(
        "processing (full path - storing only): "
        + ", ".join(f"{kind} {processing[kind]:,.0f}" for kind in KINDS)
        + f"; {total[FULL.key] - total[STORE_ONLY.key]:,.0f} us in all"
    )
    allowed = total[DURABLE.key] / goal - total[STORE_ONLY.key]
    print(
        f"for the full path at {goal:.0%} of the baseline's CPU, processing may cost "
        f"{allowed:,.0f} us an event"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per target per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target (default 3)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--postgres-admin-url", default=webhooks.POSTGRES_ADMIN_URL)
    own = parser.parse_args(argv)
    # gunicorn's and the clients' settings: exactly those of webhooks.py.
    args = webhooks.parse_args(["--events", str(own.events), "--rounds", str(own.rounds)])
    if not Path("/proc/self/stat").exists():
        print("needs Linux's /proc to count CPU per process", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-webhook-cpu-") as tmp:
        tmp_dir = Path(tmp)
        if own.database == "sqlite":
            database = webhooks.sqlite_database(tmp_dir)
        else:
            database = webhooks.postgres_database(own.postgres_admin_url)
        try:
            with database as url:
                secret = "whsec_cpu_" + secrets.token_hex(16)
                env = webhooks.server_environment(url, secret)
                webhooks.prepare_schema(env)
                print(f"{own.database}: warming up, then {own.rounds} rounds", flush=True)
                with webhooks.running(args, env, tmp_dir, TARGETS) as servers:
                    results = measure_rounds(servers, args, secret, url)
        except webhooks.BenchmarkError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    report(own.database, results, webhooks.GOAL_RATIO)
    return 0


if __name__ == "__main__":
    sys.exit(main())
