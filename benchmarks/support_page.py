"""Throughput of ``GET /support`` as a ratio to a bare Flask route, both under gunicorn.

Absolute requests per second depend on the machine; the ratio to a bare Flask app
served the same way in the same run does not (much), so that is what we track.
Both apps run in gunicorn subprocesses on loopback, with the same settings; the
load comes from client processes in this script using keep-alive ``http.client``
connections, pinned to other CPUs than the servers so each server is the
bottleneck. The clients send no cookies, so every request is a reader's first
visit (a fresh session and CSRF token), as an article's "Support us" link makes.
Each server's CPU time per request is printed too: it barely moves when other
work shares the machine, so it tells a busy machine from a real change.

    .venv/bin/python benchmarks/support_page.py [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import FrameType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_ROOT / "benchmarks"
BIN_DIR = Path(sys.executable).parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks import serving  # noqa: E402
from benchmarks.serving import BenchmarkError  # noqa: E402

HOST = "127.0.0.1"
PATH = "/support"
GOAL_RATIO = 0.60
# Throughput and CPU ratios further apart than this mean the machine was busy.
DISAGREEMENT = 0.10
STARTUP_DEADLINE_S = 30.0


@dataclass(frozen=True)
class Target:
    """One app under test: how gunicorn finds it and a phrase its page must contain."""

    name: str
    app_spec: str
    chdir: Path
    marker: bytes


BARE = Target("bare Flask", "bare_app:app", BENCH_DIR, b"<title>Support us")
SUPPORT = Target("GET /support", "wsgi:app", PROJECT_ROOT, b"<title>Support us")


@dataclass(frozen=True)
class Server:
    """A running gunicorn and the loopback port it answers on."""

    target: Target
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Small defaults so ``make bench`` stays under a minute on a 2-core machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per target per round (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per target (default 5)")
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent client connections (default 4)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker class (default sync)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="servers on one half of the CPUs, clients on the other (default on)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=4.0,
        help="seconds one target may take in one round before it is cut short (default 4)",
    )
    args = parser.parse_args(argv)
    for name in ("requests", "rounds", "clients", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


@dataclass(frozen=True)
class CpuSplit:
    """Which CPUs the servers and the clients may use; None leaves it to the scheduler."""

    servers: frozenset[int] | None = None
    clients: frozenset[int] | None = None

    def describe(self) -> str:
        """One line for the header, so a reader knows how the numbers were taken."""
        if self.servers is None or self.clients is None:
            return "servers and clients share all CPUs"
        return f"servers on CPU {_cpu_list(self.servers)}, clients on CPU {_cpu_list(self.clients)}"


def _cpu_list(cpus: frozenset[int]) -> str:
    """CPU numbers as the header prints them."""
    return ",".join(str(cpu) for cpu in sorted(cpus))


def split_cpus(pin: bool) -> CpuSplit:
    """Keep the load generator off the servers' CPUs.

    On a small machine a Python client competes with the server for CPU, and it
    costs the same per request whichever app it is loading, so sharing CPUs pulls
    the ratio towards 1 and makes it jumpy. With the halves apart, each server
    is the bottleneck and the ratio reflects what the apps cost.
    """
    if not pin or not hasattr(os, "sched_getaffinity"):
        return CpuSplit()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CpuSplit()
    half = len(cpus) // 2
    return CpuSplit(servers=frozenset(cpus[:half]), clients=frozenset(cpus[half:]))


def pin_to(cpus: frozenset[int] | None) -> None:
    """Restrict the calling process to ``cpus`` (a process pool initializer)."""
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def inherited_affinity(cpus: frozenset[int] | None) -> Iterator[None]:
    """Let a child started inside this block inherit ``cpus``, with no pre-exec hook.

    gunicorn forks its workers from the master, so they inherit it too.
    """
    if cpus is None:
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def app_environment(tmp_dir: Path) -> dict[str, str]:
    """Development settings on a throwaway SQLite file; no Stripe keys, no shell leftovers.

    SECRET_KEY is set so the app never reads or writes ``instance/dev-secret-key``.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "SUPPORT_", "GUNICORN_", "LISTEN_"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "PUBLIC_BASE_URL", "FLASK_APP")
    }
    env.update(
        APP_ENV="development",
        DATABASE_URL=f"sqlite:///{tmp_dir / 'bench.sqlite3'}",
        SECRET_KEY="benchmark-only-" + os.urandom(16).hex(),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def apply_migrations(env: dict[str, str]) -> None:
    """The app reads its schema from Alembic, as in production; do the same here."""
    serving.migrate(env, PROJECT_ROOT, BIN_DIR)


def gunicorn_command(target: Target, fd: int, args: argparse.Namespace, tmp_dir: Path) -> list[str]:
    """Identical gunicorn settings for both targets; only the app differs."""
    empty_config = tmp_dir / "gunicorn.conf.py"
    empty_config.touch()
    command = [
        str(BIN_DIR / "gunicorn"),
        "--config",
        str(empty_config),  # never pick up a ./gunicorn.conf.py someone left around
        "--bind",
        f"fd://{fd}",
        "--chdir",
        str(target.chdir),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
        "--worker-tmp-dir",
        str(tmp_dir),
    ]
    # Since 25.1 gunicorn opens a control socket in $HOME by default; two at once collide.
    if _version_tuple(version("gunicorn")) >= (25, 1):
        command.append("--no-control-socket")
    return [*command, target.app_spec]


def _version_tuple(text: str) -> tuple[int, ...]:
    """Major and minor of a version string; enough to pick gunicorn flags."""
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def start_server(
    target: Target,
    args: argparse.Namespace,
    env: dict[str, str],
    tmp_dir: Path,
    cpus: frozenset[int] | None,
) -> Server:
    """Start gunicorn for the target on a free loopback port, on the servers' CPUs."""
    log_path = tmp_dir / f"{target.app_spec.split(':')[0]}.log"
    with inherited_affinity(cpus):
        port, process = serving.start_gunicorn(
            lambda fd: gunicorn_command(target, fd, args, tmp_dir), target.chdir, env, log_path
        )
    return Server(target, port, process, log_path)


def wait_until_ready(server: Server, deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Poll the page until it answers 200 with the expected content, or give up loudly."""
    serving.wait_until_ready(
        server.target.name,
        server.process,
        server.log_path,
        server.port,
        PATH,
        lambda status, body: status == 200 and server.target.marker in body,
        deadline_s,
    )


def hammer(port: int, count: int, time_limit_s: float) -> tuple[int, int]:
    """One client: ``count`` GETs on one keep-alive connection; returns (done, not 200).

    ``http.client`` reopens the connection by itself whenever the server closes it
    (gunicorn's sync worker does after every response), so the same loop serves both.
    """
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    stop_at = time.monotonic() + time_limit_s
    done = failed = 0
    try:
        while done < count and time.monotonic() < stop_at:
            conn.request("GET", PATH)
            response = conn.getresponse()
            response.read()
            done += 1
            failed += response.status != 200
    finally:
        conn.close()
    return done, failed


@dataclass(frozen=True)
class Sample:
    """One target in one round: throughput, and the server CPU each request took."""

    rate: float
    cpu_per_request: float | None  # seconds; None where /proc cannot tell


def worker_cpu_seconds(server: Server) -> float | None:
    """CPU time the server's workers have used so far (Linux ``/proc``), or None.

    Throughput on a shared machine moves with whatever else runs; CPU time per
    request barely does, so it is printed beside the rate as a cross-check.
    """
    master = server.process.pid
    try:
        workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        ticks = 0
        for pid in workers:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK") if workers else None


def measure(
    pool: ProcessPoolExecutor, server: Server, requests: int, clients: int, time_limit_s: float
) -> Sample:
    """Send ``requests`` GETs spread over ``clients`` connections and time them."""
    shares = [requests // clients + (i < requests % clients) for i in range(clients)]
    cpu_before = worker_cpu_seconds(server)
    started = time.perf_counter()
    futures = [pool.submit(hammer, server.port, share, time_limit_s) for share in shares if share]
    try:
        results = [future.result() for future in futures]
    except (OSError, http.client.HTTPException) as exc:
        raise BenchmarkError(f"{server.target.name}: a request failed: {exc!r}") from exc
    elapsed = time.perf_counter() - started
    cpu_after = worker_cpu_seconds(server)
    done = sum(d for d, _ in results)
    failed = sum(f for _, f in results)
    if failed:
        raise BenchmarkError(f"{server.target.name}: {failed} of {done} responses were not 200")
    cpu = None
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        cpu = (cpu_after - cpu_before) / done
    return Sample(rate=done / elapsed, cpu_per_request=cpu)


def run_rounds(
    servers: list[Server], args: argparse.Namespace, cpus: frozenset[int] | None
) -> dict[str, list[Sample]]:
    """Warm both up, then alternate which goes first each round so drift hits both alike."""
    samples: dict[str, list[Sample]] = {server.target.name: [] for server in servers}
    with ProcessPoolExecutor(
        max_workers=args.clients, initializer=pin_to, initargs=(cpus,)
    ) as pool:
        for server in servers:  # imports, template compilation, connection set-up
            measure(pool, server, max(args.requests // 4, args.clients * 50), args.clients, 3.0)
        for round_no in range(args.rounds):
            order = servers if round_no % 2 == 0 else servers[::-1]
            for server in order:
                sample = measure(pool, server, args.requests, args.clients, args.time_limit)
                samples[server.target.name].append(sample)
            print(
                f"  round {round_no + 1}/{args.rounds}: "
                + ", ".join(f"{name} {values[-1].rate:,.0f}/s" for name, values in samples.items()),
                flush=True,
            )
    return samples


def _median_cpu(samples: list[Sample]) -> float | None:
    """Median server CPU per request, if every round could measure it."""
    values = [s.cpu_per_request for s in samples]
    if any(v is None for v in values):
        return None
    return statistics.median(v for v in values if v is not None)


def report(samples: dict[str, list[Sample]]) -> None:
    """The table, the goal, and whether this run met it."""
    bare_rate = statistics.median(s.rate for s in samples[BARE.name])
    bare_cpu = _median_cpu(samples[BARE.name])
    print()
    print(
        f"{'target':<14} {'requests/s (median)':>20} {'min-max':>13} {'ratio to bare':>14}"
        f"   {'server CPU/request':>18} {'CPU ratio':>10}"
    )
    print("-" * 96)
    for name, values in samples.items():
        rates = [s.rate for s in values]
        rate = statistics.median(rates)
        spread = f"{min(rates):,.0f}-{max(rates):,.0f}"
        cpu = _median_cpu(values)
        cpu_text = f"{cpu * 1e6:,.0f} us" if cpu else "n/a"
        cpu_ratio = f"{bare_cpu / cpu:.0%}" if cpu and bare_cpu else "n/a"
        print(
            f"{name:<14} {rate:>20,.0f} {spread:>13} {rate / bare_rate:>14.0%}"
            f"   {cpu_text:>18} {cpu_ratio:>10}"
        )
    ratio = statistics.median(s.rate for s in samples[SUPPORT.name]) / bare_rate
    support_cpu = _median_cpu(samples[SUPPORT.name])
    print()
    print("ratio to bare = median requests/s over bare Flask's median requests/s")
    print("CPU ratio     = bare Flask's worker CPU per request over this target's (cross-check)")
    print()
    print(f"goal: /support >= {GOAL_RATIO:.0%} of bare Flask")
    print(f"result: /support is {ratio:.0%} of bare Flask -> goal {_verdict(ratio)}")
    if bare_cpu and support_cpu and abs(bare_cpu / support_cpu - ratio) > DISAGREEMENT:
        by_cpu = bare_cpu / support_cpu
        print(
            f"warning: by server CPU per request /support is {by_cpu:.0%} of bare Flask "
            f"(goal {_verdict(by_cpu)}); other work on this machine disturbed the "
            "throughput numbers, so rerun before trusting the result"
        )


def _verdict(ratio: float) -> str:
    """The words for the goal line, kept in one place so both checks say the same."""
    return "MET" if ratio >= GOAL_RATIO else "NOT MET"


@contextlib.contextmanager
def running(
    targets: list[Target],
    args: argparse.Namespace,
    env: dict[str, str],
    tmp_dir: Path,
    cpus: frozenset[int] | None,
) -> Iterator[list[Server]]:
    """Start every target, wait until each answers, and stop them all on the way out."""
    servers: list[Server] = []
    try:
        for target in targets:
            servers.append(start_server(target, args, env, tmp_dir, cpus))
        for server in servers:
            wait_until_ready(server)
        yield servers
    finally:
        for server in servers:
            serving.stop(server.process)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so ``running`` still stops the servers."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 whether or not the goal is met, 1 if it could not be measured."""
    args = parse_args(argv)
    split = split_cpus(args.pin)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(
        f"GET {PATH}: {args.rounds} rounds x {args.requests} requests per target, "
        f"{args.clients} client connections; gunicorn {args.workers} x {args.worker_class}"
        + (f" ({args.threads} threads)" if args.threads > 1 else "")
        + f"; {split.describe()}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bench-support-") as tmp:
            tmp_dir = Path(tmp)
            env = app_environment(tmp_dir)
            apply_migrations(env)
            with running([BARE, SUPPORT], args, env, tmp_dir, split.servers) as servers:
                samples = run_rounds(servers, args, split.clients)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    report(samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
