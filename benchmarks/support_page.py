"""Throughput of ``GET /support`` as a ratio to a bare Flask route, both under gunicorn.

Absolute requests per second depend on the machine; the ratio to a bare Flask app
served the same way in the same run does not (much), so that is what we track.
Both apps run in gunicorn subprocesses on loopback; the load comes from client
processes in this script using keep-alive ``http.client`` connections. The
clients send no cookies, so every request is a reader's first visit (a fresh
session and CSRF token), which is what an article's "Support us" link produces.

    .venv/bin/python benchmarks/support_page.py [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import socket
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
HOST = "127.0.0.1"
PATH = "/support"
GOAL_RATIO = 0.60
PIN = bool(os.environ.get("PIN"))
STARTUP_DEADLINE_S = 30.0
STOP_DEADLINE_S = 10.0


@dataclass(frozen=True)
class Target:
    """One app under test: how gunicorn finds it and a phrase its page must contain."""

    name: str
    app_spec: str
    chdir: Path
    marker: bytes


BARE = Target("bare Flask", "bare_app:app", BENCH_DIR, b"Support independent journalism")
SUPPORT = Target("GET /support", "wsgi:app", PROJECT_ROOT, b"Support independent journalism")


@dataclass(frozen=True)
class Server:
    """A running gunicorn and the loopback port it answers on."""

    target: Target
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


class BenchmarkError(RuntimeError):
    """The measurement itself failed (a server did not start, a request was refused)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Small defaults so ``make bench`` stays under a minute on a 2-core machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=3000, help="requests per target per round (default 3000)"
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
        "--time-limit",
        type=float,
        default=6.0,
        help="seconds one target may take in one round before it is cut short (default 6)",
    )
    args = parser.parse_args(argv)
    for name in ("requests", "rounds", "clients", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


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
    result = subprocess.run(
        [str(BIN_DIR / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchmarkError(f"flask db upgrade failed:\n{result.stdout}{result.stderr}")


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
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def start_server(
    target: Target, args: argparse.Namespace, env: dict[str, str], tmp_dir: Path
) -> Server:
    """Bind a free loopback port here and hand the socket to gunicorn, so no port race."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((HOST, 0))
        listener.listen(1024)
        port = listener.getsockname()[1]
        fd = listener.fileno()
        log_path = tmp_dir / f"{target.app_spec.split(':')[0]}.log"
        parent_cpus = os.sched_getaffinity(0)
        if PIN:
            os.sched_setaffinity(0, {0})
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                gunicorn_command(target, fd, args, tmp_dir),
                cwd=target.chdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
            )
    finally:
        os.sched_setaffinity(0, parent_cpus)
        listener.close()  # gunicorn holds its own copy now
    return Server(target, port, process, log_path)


def wait_until_ready(server: Server, deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Poll the page until it answers 200 with the expected content, or give up loudly."""
    deadline = time.monotonic() + deadline_s
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchmarkError(
                f"{server.target.name}: gunicorn exited with {server.process.returncode}\n"
                + _log_tail(server)
            )
        conn = http.client.HTTPConnection(HOST, server.port, timeout=2)
        try:
            conn.request("GET", PATH)
            response = conn.getresponse()
            body = response.read()
            if response.status == 200 and server.target.marker in body:
                return
            last_problem = f"HTTP {response.status}: {body[:200]!r}"
        except OSError as exc:
            last_problem = repr(exc)
        finally:
            conn.close()
        time.sleep(0.05)  # polling interval, not a wait for readiness
    raise BenchmarkError(
        f"{server.target.name} not ready after {deadline_s:.0f}s ({last_problem})\n"
        + _log_tail(server)
    )


def _log_tail(server: Server, lines: int = 30) -> str:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_server(server: Server) -> None:
    """Graceful stop, then kill: never leave a gunicorn behind, whatever happened."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


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


def measure(
    pool: ProcessPoolExecutor, server: Server, requests: int, clients: int, time_limit_s: float
) -> float:
    """Requests per second for ``requests`` GETs spread over ``clients`` connections."""
    shares = [requests // clients + (i < requests % clients) for i in range(clients)]
    started = time.perf_counter()
    futures = [pool.submit(hammer, server.port, share, time_limit_s) for share in shares if share]
    results = [future.result() for future in futures]
    elapsed = time.perf_counter() - started
    done = sum(d for d, _ in results)
    failed = sum(f for _, f in results)
    if failed:
        raise BenchmarkError(f"{server.target.name}: {failed} of {done} responses were not 200")
    return done / elapsed


def run_rounds(servers: list[Server], args: argparse.Namespace) -> dict[str, list[float]]:
    """Warm both up, then alternate which goes first each round so drift hits both alike."""
    rates: dict[str, list[float]] = {server.target.name: [] for server in servers}
    with ProcessPoolExecutor(max_workers=args.clients, initializer=os.sched_setaffinity, initargs=(0, {1} if PIN else {0,1})) as pool:
        for server in servers:  # imports, template compilation, connection set-up
            measure(pool, server, max(args.requests // 4, args.clients * 50), args.clients, 5.0)
        for round_no in range(args.rounds):
            order = servers if round_no % 2 == 0 else servers[::-1]
            for server in order:
                rate = measure(pool, server, args.requests, args.clients, args.time_limit)
                rates[server.target.name].append(rate)
            print(
                f"  round {round_no + 1}/{args.rounds}: "
                + ", ".join(f"{name} {values[-1]:,.0f}/s" for name, values in rates.items()),
                flush=True,
            )
    return rates


def report(rates: dict[str, list[float]]) -> None:
    """The table, the goal, and whether this run met it."""
    bare = statistics.median(rates[BARE.name])
    rows = [(name, statistics.median(values), min(values), max(values)) for name, values in rates.items()]
    print()
    print(f"{'target':<14} {'requests/s (median)':>20} {'min-max':>15} {'ratio to bare':>14}")
    print("-" * 66)
    for name, median, low, high in rows:
        print(f"{name:<14} {median:>20,.0f} {f'{low:,.0f}-{high:,.0f}':>15} {median / bare:>13.0%}")
    ratio = statistics.median(rates[SUPPORT.name]) / bare
    print()
    print(f"goal: /support >= {GOAL_RATIO:.0%} of bare Flask")
    verdict = "MET" if ratio >= GOAL_RATIO else "NOT MET"
    print(f"result: /support is {ratio:.0%} of bare Flask -> goal {verdict}")


@contextlib.contextmanager
def running(
    targets: list[Target], args: argparse.Namespace, env: dict[str, str], tmp_dir: Path
) -> Iterator[list[Server]]:
    """Start every target, wait until each answers, and stop them all on the way out."""
    servers: list[Server] = []
    try:
        for target in targets:
            servers.append(start_server(target, args, env, tmp_dir))
        for server in servers:
            wait_until_ready(server)
        yield servers
    finally:
        for server in servers:
            stop_server(server)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `running`, which stops the servers


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 whether or not the goal is met, 1 if it could not be measured."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print(
        f"GET {PATH}: {args.rounds} rounds x {args.requests} requests per target, "
        f"{args.clients} client connections; gunicorn {args.workers} x {args.worker_class}"
        + (f" ({args.threads} threads)" if args.threads > 1 else "")
        + f" on {os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="bench-support-") as tmp:
            tmp_dir = Path(tmp)
            env = app_environment(tmp_dir)
            apply_migrations(env)
            with running([BARE, SUPPORT], args, env, tmp_dir) as servers:
                rates = run_rounds(servers, args)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    report(rates)
    return 0


if __name__ == "__main__":
    sys.exit(main())
