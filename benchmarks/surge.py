"""A surge of readers: Continues per second while Stripe takes its time, and what waits meanwhile.

A viral article or a newsletter sends many readers to Continue at once, and Continue
waits on Stripe to open a Checkout Session. Here a fake Stripe (``tests/fake_stripe.py``)
answers every call after a set latency (default 400 ms), and the app is served as the
README's Deploying section says (gunicorn with ``gunicorn.conf.py``, and Stripe's webhooks
sent to a second one, as the proxy routes them), on SQLite and on PostgreSQL. N readers
(default 64) load ``/support`` and post Continue, again and again,
each time as a new reader (a new connection, kept alive from the page to Continue, and
no cookie from before); the checkout rate limit is raised for the run. Meanwhile a
probe, one request at a time on a fresh connection, times ``GET /support`` and a signed
webhook delivery (an event of a newsroom's mix, whose checkout attempt exists).

Continues per second are printed as a share of the ideal, readers / latency: every
reader always waiting on Stripe and nothing else taking any time. Goal: at least 85%
of the ideal at 64 readers and 400 ms, with both probes' p99 under 150 ms.

    .venv/bin/python benchmarks/surge.py [--readers N] [--latency-ms N] [--seconds N]
        [--databases sqlite,postgresql] [--gunicorn-flags "--workers 4 --threads 1"]
        [--no-webhook-server] [--webhook-gunicorn-flags "--workers 1 --threads 8"]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import logging
import multiprocessing
import os
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from urllib.parse import urlencode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402

from benchmarks import serving  # noqa: E402
from benchmarks.serving import BenchmarkError  # noqa: E402
from benchmarks.webhooks import (  # noqa: E402
    POSTGRES_ADMIN_URL,
    EventMix,
    postgres_problem,
    postgres_url,
    server_environment,
    sign,
    store_attempts,
)
from tests.fake_stripe import FakeStripeServer  # noqa: E402

BIN_DIR = Path(sys.executable).parent
HOST = "127.0.0.1"
GUNICORN_CONFIG = PROJECT_ROOT / "gunicorn.conf.py"  # the README's deployment
BENCH_DATABASE = "membership_surge"  # created and dropped here; never the ``test`` database
GOAL_SHARE_OF_IDEAL = 0.85
GOAL_P99_S = 0.150
STARTUP_DEADLINE_S = 30.0
PROBE_INTERVAL_S = 0.05  # between one probe's answer and the next probe
# The placeholder in a cached page is "<csrf-token>"; the reader reads the real one.
TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"<]+)"')
GIFTS = ({"frequency": "once", "amount": "25"}, {"frequency": "monthly", "amount": "10"})


# -- Fake Stripe -------------------------------------------------------------------------


def _serve_fake_stripe(latency_s: float, reply: Connection) -> None:
    """A process of its own, so its work never shares an interpreter lock with the probe."""

    def wait() -> None:
        time.sleep(latency_s)  # Stripe's own time to answer: what this benchmark is about

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    with FakeStripeServer() as stripe:
        stripe.while_answering = wait
        reply.send(stripe.base_url)
        threading.Event().wait()  # until terminated


@contextlib.contextmanager
def fake_stripe(latency_s: float) -> Iterator[tuple[str, int]]:
    """Start the fake Stripe in a child process; yields its base URL and pid."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=_serve_fake_stripe, args=(latency_s, sender))
    process.start()
    try:
        if not receiver.poll(STARTUP_DEADLINE_S):
            raise BenchmarkError("the fake Stripe did not start")
        yield receiver.recv(), process.pid or 0
    finally:
        process.terminate()
        process.join(timeout=5)


# -- Readers -----------------------------------------------------------------------------


@dataclass
class ReaderResult:
    """What one process of readers saw: when each Continue was answered, and failures."""

    continued_at: list[float] = field(default_factory=list)  # CLOCK_MONOTONIC, system-wide
    continue_seconds: list[float] = field(default_factory=list)
    failures: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.failures += 1
        if len(self.examples) < 3:
            self.examples.append(what)


def _one_reader(port: int, gift: dict[str, str], stop_at: float, result: ReaderResult) -> None:
    """Load the page, post Continue with its token and cookie, as a new reader each time:
    a new connection (kept alive from the page to Continue), no cookie from before."""
    query = "/support?" + urlencode(gift)
    while time.monotonic() < stop_at:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            conn.request("GET", query)
            page = conn.getresponse()
            body = page.read()
            token = TOKEN.search(body)
            cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
            if page.status != 200 or token is None or not cookie:
                result.fail(f"GET /support: HTTP {page.status}")
                continue
            form = urlencode({"csrf_token": token.group(1).decode(), "currency": "USD", **gift})
            started = time.monotonic()
            conn.request(
                "POST",
                "/support/checkout",
                body=form,
                headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
            )
            answer = conn.getresponse()
            answer.read()
            if answer.status != 303:
                result.fail(f"POST /support/checkout: HTTP {answer.status}")
                continue
            now = time.monotonic()
            result.continued_at.append(now)
            result.continue_seconds.append(now - started)
        except (OSError, http.client.HTTPException) as exc:
            result.fail(repr(exc))
        finally:
            conn.close()


def run_readers(port: int, first: int, count: int, stop_at: float) -> ReaderResult:
    """``count`` readers as threads of one client process, until ``stop_at``."""
    result = ReaderResult()  # list.append is atomic: the threads share it
    threads = [
        threading.Thread(
            target=_one_reader, args=(port, GIFTS[(first + i) % len(GIFTS)], stop_at, result)
        )
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


# -- Probe -------------------------------------------------------------------------------


@dataclass
class Probe:
    """Answer times of one kind of probe request, and anything not answered as expected."""

    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _timed(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[float, int]:
    """One request on a fresh connection, as a newly arrived reader or Stripe sends it."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    return time.monotonic() - started, response.status


def probe(
    port: int, webhook_port: int, bodies: list[str], secret: str, stop_at: float
) -> tuple[Probe, Probe]:
    """Alternate ``GET /support`` and a webhook delivery (to ``webhook_port``, where the
    proxy would route it), one at a time, until ``stop_at``."""
    page, webhook = Probe(), Probe()
    key = secret.encode()
    pending = [body.encode() for body in bodies]
    while time.monotonic() < stop_at and pending:
        seconds, status = _timed(port, "GET", "/support?source=probe", None, {})
        page.seconds.append(seconds)
        if status != 200:
            page.failures.append(f"HTTP {status}")
        time.sleep(PROBE_INTERVAL_S / 2)
        payload = pending.pop()
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, key)}
        seconds, status = _timed(webhook_port, "POST", "/stripe/webhook", payload, headers)
        webhook.seconds.append(seconds)
        if status != 200:
            webhook.failures.append(f"HTTP {status}")
        time.sleep(PROBE_INTERVAL_S / 2)
    return page, webhook


# -- CPU -----------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """CPU time these processes have used so far (Linux ``/proc``); 0 for any gone."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def gunicorn_workers(master: int) -> list[int]:
    """The worker processes of a gunicorn master."""
    try:
        return [
            int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ]
    except OSError:
        return []


# -- Server ------------------------------------------------------------------------------


# The README's deployment gives Stripe's webhooks a gunicorn of their own (the proxy routes
# /stripe/webhook to it), so that no surge of readers can hold the ledger's source up.
WEBHOOK_SERVER_FLAGS = "--workers 1 --threads 8"


def gunicorn_command(
    fd: int, args: argparse.Namespace, tmp_dir: Path, flags: str | None = None
) -> list[str]:
    """The README's deployment (its config file), bound to the benchmark's socket."""
    command = [
        str(BIN_DIR / "gunicorn"),
        "--config",
        str(GUNICORN_CONFIG),
        "--bind",
        f"fd://{fd}",
        "--chdir",
        str(PROJECT_ROOT),
        "--log-level",
        "warning",
        "--worker-tmp-dir",
        str(tmp_dir),
    ]
    flags = args.gunicorn_flags if flags is None else flags
    return [*command, *serving.no_control_socket(), *shlex.split(flags), "wsgi:app"]


@contextlib.contextmanager
def serving_app(
    args: argparse.Namespace,
    env: dict[str, str],
    tmp_dir: Path,
    flags: str | None = None,
    name: str = "gunicorn",
) -> Iterator[tuple[int, int]]:
    """gunicorn serving the app until the block ends; yields its port and master's pid."""
    log_path = tmp_dir / f"{name}.log"
    port, process = serving.start_gunicorn(
        lambda fd: gunicorn_command(fd, args, tmp_dir, flags), PROJECT_ROOT, env, log_path
    )
    try:
        serving.wait_until_ready(
            "the app",
            process,
            log_path,
            port,
            "/support",
            lambda status, body: status == 200,
            STARTUP_DEADLINE_S,
        )
        yield port, process.pid
    finally:
        serving.stop(process)
        if process.returncode not in (0, -signal.SIGTERM):
            print(serving.log_tail(log_path), file=sys.stderr)


def surge_environment(database_url: str, webhook_secret: str, stripe_url: str) -> dict[str, str]:
    """The webhook benchmark's settings, Stripe at the fake, Continue limited only in name."""
    env = server_environment(database_url, webhook_secret)
    env.update(STRIPE_API_BASE=stripe_url, CHECKOUT_LIMIT_PER_IP="1000000 per minute")
    return env


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A dedicated database, created for this run and dropped afterwards, whatever happens."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    try:
        yield postgres_url(admin_url, BENCH_DATABASE)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


@contextlib.contextmanager
def _webhook_server(
    args: argparse.Namespace, env: dict[str, str], tmp_dir: Path, port: int, master: int
) -> Iterator[tuple[int, int]]:
    """The webhooks' own gunicorn, as the README deploys it; with ``--no-webhook-server``,
    the readers' one (its port and master)."""
    if not args.webhook_server:
        yield port, master
        return
    with serving_app(args, env, tmp_dir, args.webhook_gunicorn_flags, "webhooks") as server:
        yield server


# -- Run and report ----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    continues_per_s: float
    ideal_per_s: float
    continue_p50_s: float
    failures: int
    examples: list[str]
    page: Probe
    webhook: Probe
    # CPU for each Continue in the window (its page included), by who spent it.
    cpu_per_continue: dict[str, float]


def surge(
    args: argparse.Namespace, database_url: str, stripe: tuple[str, int], tmp_dir: Path
) -> Outcome:
    """Migrate, serve, run readers and probe together, count what happened in the window."""
    stripe_url, stripe_pid = stripe
    secret = "whsec_bench_" + secrets.token_hex(16)
    env = surge_environment(database_url, secret, stripe_url)
    serving.migrate(env, PROJECT_ROOT, BIN_DIR)
    mix = EventMix(namespace=secrets.token_hex(3), seed=13)
    bodies = mix.bodies(int(args.seconds / PROBE_INTERVAL_S) + 10)
    store_attempts(database_url, mix)
    processes = min(args.reader_processes, args.readers)
    shares = [args.readers // processes + (i < args.readers % processes) for i in range(processes)]
    with (
        serving_app(args, env, tmp_dir) as (port, master),
        _webhook_server(args, env, tmp_dir, port, master) as (webhook_port, webhook_master),
        ProcessPoolExecutor(processes) as pool,
    ):
        start = time.monotonic()
        measure_from = start + args.warmup
        stop_at = measure_from + args.seconds
        futures = [
            pool.submit(run_readers, port, sum(shares[:i]), share, stop_at)
            for i, share in enumerate(shares)
        ]
        groups = {"app": gunicorn_workers(master), "fake Stripe": [stripe_pid]}
        if webhook_master != master:
            groups["webhook server"] = gunicorn_workers(webhook_master)
        groups["readers"] = [process.pid for process in pool._processes.values()]
        page = webhook = Probe()
        while time.monotonic() < measure_from:  # the probe sends nothing it would not keep
            time.sleep(PROBE_INTERVAL_S)
        cpu_before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        page, webhook = probe(port, webhook_port, bodies, secret, stop_at)
        cpu_after = {name: cpu_seconds(pids) for name, pids in groups.items()}
        results = [future.result() for future in futures]
    continued = [t for r in results for t in r.continued_at if measure_from <= t < stop_at]
    waits = [s for r in results for s in r.continue_seconds]
    return Outcome(
        continues_per_s=len(continued) / args.seconds,
        ideal_per_s=args.readers / (args.latency_ms / 1000),
        continue_p50_s=statistics.median(waits) if waits else float("nan"),
        failures=sum(r.failures for r in results),
        examples=[example for r in results for example in r.examples][:3],
        page=page,
        webhook=webhook,
        cpu_per_continue={
            name: (cpu_after[name] - cpu_before[name]) / max(len(continued), 1) for name in groups
        },
    )


def report(name: str, outcome: Outcome) -> bool:
    """The database's lines; True when every goal is met."""
    share = outcome.continues_per_s / outcome.ideal_per_s
    print(
        f"{name}: {outcome.continues_per_s:,.1f} Continues/s = {share:.0%} of the ideal "
        f"{outcome.ideal_per_s:,.0f}/s (Continue answered in "
        f"{outcome.continue_p50_s * 1000:,.0f} ms at the median; {outcome.failures} failed)"
    )
    met = share >= GOAL_SHARE_OF_IDEAL and not outcome.failures
    for label, timings in (("GET /support", outcome.page), ("webhook", outcome.webhook)):
        if not timings.seconds:
            print(f"  {label:<13} no probe was answered in the window")
            met = False
            continue
        p50, p99 = timings.percentile(0.50), timings.percentile(0.99)
        print(
            f"  {label:<13} p50 {p50 * 1000:6,.0f} ms   p99 {p99 * 1000:6,.0f} ms"
            f"   ({len(timings.seconds)} probes"
            + (
                f", {len(timings.failures)} not answered as expected: {timings.failures[:3]})"
                if timings.failures
                else ")"
            )
        )
        met = met and p99 < GOAL_P99_S and not timings.failures
    print(
        "  CPU per Continue (its page included): "
        + ", ".join(
            f"{name} {seconds * 1000:.1f} ms" for name, seconds in outcome.cpu_per_continue.items()
        )
    )
    for example in outcome.examples:
        print(f"  failure: {example}")
    print(
        f"  goal: >= {GOAL_SHARE_OF_IDEAL:.0%} of the ideal, both p99 < {GOAL_P99_S * 1000:.0f} ms"
        f" -> {'MET' if met else 'NOT MET'}",
        flush=True,
    )
    return met


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The issue's surge by default: 64 readers, Stripe answering in 400 ms."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readers", type=int, default=64, help="concurrent readers (default 64)")
    parser.add_argument(
        "--latency-ms", type=int, default=400, help="Stripe's time to answer (default 400)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="measured seconds per database (default 20)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of surge before measuring (default 3)"
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument(
        "--reader-processes", type=int, default=2, help="client processes (default 2)"
    )
    parser.add_argument(
        "--gunicorn-flags",
        default="",
        help='flags after the config file\'s, e.g. "--workers 4 --worker-class sync --threads 1"',
    )
    parser.add_argument(
        "--webhook-server",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Stripe's webhooks to a gunicorn of their own, as the README deploys them "
        "(default on; --no-webhook-server sends them to the readers' one)",
    )
    parser.add_argument(
        "--webhook-gunicorn-flags",
        default=WEBHOOK_SERVER_FLAGS,
        help="flags after the config file's for the webhooks' gunicorn "
        f'(default "{WEBHOOK_SERVER_FLAGS}")',
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=POSTGRES_ADMIN_URL,
        help=f"where to CREATE/DROP DATABASE {BENCH_DATABASE} (default {POSTGRES_ADMIN_URL})",
    )
    args = parser.parse_args(argv)
    for name in ("readers", "latency_ms", "reader_processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    if set(args.databases) - {"sqlite", "postgresql"} or not args.databases:
        parser.error("--databases takes sqlite, postgresql or both")
    return args


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the context managers, which stop servers


def main(argv: list[str] | None = None) -> int:
    """Run the surge on each database; 0 whether or not the goal is met, 1 if not measured."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(
        f"surge: {args.readers} readers, Stripe answering in {args.latency_ms} ms, "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s; gunicorn -c gunicorn.conf.py "
        f"{args.gunicorn_flags}".rstrip()
        + (
            f", webhooks: gunicorn -c gunicorn.conf.py {args.webhook_gunicorn_flags}"
            if args.webhook_server
            else ", webhooks to the same gunicorn"
        )
        + f"; {os.cpu_count()} CPUs",
        flush=True,
    )
    databases = list(args.databases)
    if "postgresql" in databases and (problem := postgres_problem(args.postgres_admin_url)):
        print(f"PostgreSQL is unreachable ({problem}): SQLite only", flush=True)
        databases = [name for name in databases if name != "postgresql"] or ["sqlite"]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-surge-") as tmp,
            fake_stripe(args.latency_ms / 1000) as stripe,
        ):
            for name in databases:
                run_dir = Path(tmp) / name
                run_dir.mkdir()
                if name == "sqlite":
                    url = f"sqlite:///{run_dir / 'membership-surge.sqlite3'}"
                    report("SQLite", surge(args, url, stripe, run_dir))
                else:
                    with postgres_database(args.postgres_admin_url) as url:
                        report("PostgreSQL", surge(args, url, stripe, run_dir))
    except (BenchmarkError, subprocess.SubprocessError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
