"""``flask stripe sync --since`` over a long backlog: events per second, peak memory at
two sizes (constant memory: the same peak for a tenth of the events), and an interrupted
run resumed (nothing missed or processed twice).

Goal (issue 18, point 4): 100,000 listed events against the suite's fake Stripe
(``tests/fake_stripe.py``, made a page at a time by ``generate_events``), with a
progress line, in constant memory, resuming where it stopped. The events are a day of
one-time gifts through Checkout (``checkout.session.completed``; one reader in three
gives twice), each stored and processed as a webhook delivery would be. The command
runs in a process of its own (peak RSS from ``wait4``) on a new database each time.

    .venv/bin/python benchmarks/stripe_sync.py [--events 100000] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import flask_migrate  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from benchmarks.reports import environ, postgres_database  # noqa: E402
from membership import create_app  # noqa: E402
from membership.extensions import db  # noqa: E402
from membership.models import Payment, StripeEvent  # noqa: E402
from tests import stripe_events as se  # noqa: E402
from tests.fake_stripe import FakeStripeServer  # noqa: E402

SINCE = "2001-09-09"
POSTGRES_DATABASE = "bench_stripe_sync"


def gift(n: int, readers: int) -> dict[str, Any]:
    session = se.checkout_session(
        mode="payment",
        amount=500 + n % 5000,
        email=f"backlog{n % readers}@example.org",
        payment_intent=f"pi_backlog_{n}",
        session_id=f"cs_backlog_{n}",
    )
    return se.event("checkout.session.completed", session, created=se.BASE_TIME - n)


def new_database(kind: str, directory: str, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{directory}/{name}.sqlite3"
    url = postgres_database(POSTGRES_DATABASE)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def sync_env(url: str, stripe_base: str) -> dict[str, str]:
    return {
        **os.environ,
        **environ(url),
        "FLASK_APP": "membership:create_app",
        "STRIPE_SECRET_KEY": "sk_test_benchmark",
        "STRIPE_WEBHOOK_SECRET": "whsec_benchmark",
        "STRIPE_API_BASE": stripe_base,
    }


def measured(env: dict[str, str], stop_after: float | None = None) -> tuple[float, float, float]:
    """Wall and CPU seconds and peak RSS (MB) of one ``flask stripe sync`` (the child's
    own rusage, from ``wait4``); interrupted (SIGINT, as Ctrl-C) after ``stop_after``
    seconds if given."""
    flask = str(Path(sys.executable).parent / "flask")
    started = time.perf_counter()
    child = subprocess.Popen(
        [flask, "stripe", "sync", "--since", SINCE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if stop_after is not None:
        time.sleep(stop_after)
        child.send_signal(signal.SIGINT)
    assert child.stdout is not None and child.stderr is not None
    # Both pipes at once: the progress line alone outgrows a pipe's buffer.
    with ThreadPoolExecutor(1) as reader:
        errors = reader.submit(child.stderr.read)
        out = child.stdout.read()
        err = errors.result()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if stop_after is None and os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"sync failed:\n{out.decode()}\n{err.decode()[-2000:]}")
    progress = err.decode(errors="replace").replace("\r", "\n").strip().splitlines()
    summary = out.decode().strip().splitlines()
    print(f"    progress: {progress[-1] if progress else ''}")
    print(f"    output: {summary[-1] if summary else '(none)'}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def counts(url: str) -> tuple[int, int, int]:
    """Events stored, events processed more than once, payments."""
    app = create_app(environ(url))
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(StripeEvent)) or 0
        twice = (
            db.session.scalar(
                select(func.count()).select_from(StripeEvent).where(StripeEvent.attempts > 1)
            )
            or 0
        )
        paid = db.session.scalar(select(func.count()).select_from(Payment)) or 0
        db.engine.dispose()
    return stored, twice, paid


def migrated(url: str) -> None:
    app = create_app(environ(url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--stop-after", type=float, default=20.0, help="seconds, then SIGINT")
    args = parser.parse_args(argv)
    print(f"{args.database}; load: {os.getloadavg()}")
    failed = []
    with tempfile.TemporaryDirectory() as directory, FakeStripeServer() as stripe:
        peaks = {}
        for size in (args.events // 10, args.events):
            readers = max(1, 2 * size // 3)
            stripe.generate_events(size, lambda n, r=readers: gift(n, r))  # type: ignore[misc]
            url = new_database(args.database, directory, f"sync-{size}")
            migrated(url)
            env = sync_env(url, stripe.base_url)
            print(f"  {size:,} events:")
            wall, cpu, peak = measured(env)
            stored, twice, paid = counts(url)
            peaks[size] = peak
            print(
                f"  {size:,} events: {size / wall:,.0f} events/s ({wall:.0f} s, cpu {cpu:.0f} s),"
                f" peak RSS {peak:.0f} MB; stored {stored:,}, processed twice {twice}, "
                f"payments {paid:,}"
            )
            if (stored, twice, paid) != (size, 0, size):
                failed.append(f"{size} events: stored {stored}, twice {twice}, paid {paid}")
        small, large = peaks[args.events // 10], peaks[args.events]
        print(f"  peak RSS at {args.events:,} events / at a tenth: {large / small:.2f}")
        if large > small * 1.2:
            failed.append("memory grows with the backlog")

        size = args.events // 10
        stripe.generate_events(size, lambda n: gift(n, max(1, 2 * size // 3)))
        url = new_database(args.database, directory, "sync-resumed")
        migrated(url)
        env = sync_env(url, stripe.base_url)
        print(f"  {size:,} events, interrupted after {args.stop_after:.0f} s, then run again:")
        measured(env, stop_after=args.stop_after)
        half = counts(url)
        measured(env)
        stored, twice, paid = counts(url)
        print(
            f"  stored {half[0]:,} before the interruption; after the second run: stored "
            f"{stored:,}, processed twice {twice}, payments {paid:,}"
        )
        if (stored, twice, paid) != (size, 0, size) or not 0 < half[0] < size:
            failed.append("resume")
    print(f"load after: {os.getloadavg()}")
    print("goal: " + ("met" if not failed else "NOT met: " + "; ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
