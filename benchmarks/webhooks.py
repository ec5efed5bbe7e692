"""Stripe events per second through the whole webhook path, as ratios to two baselines.

The full path (``POST /stripe/webhook`` of ``wsgi:app``: verify, store, process)
is compared with a bare Flask POST route and with a minimal durable webhook
(verify, insert the event row, commit; ``webhook_baselines.py``), all three
served by gunicorn with identical settings, in the same run, on the same
database. Absolute rates depend on the machine; the ratios are what we track.

Events are unique, built from Stripe's example objects (``tests/stripe_events.py``)
in a newsroom's mix, and signed with a fresh timestamp as each is sent. Every
answer must be 200: anything else is counted and shown, never silently timed.

    .venv/bin/python benchmarks/webhooks.py [--events N] [--rounds N]
        [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import hmac
import http.client
import itertools
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, only benchmarks/ is on the path; ``tests`` and ``benchmarks`` live above it.
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from benchmarks import serving, webhook_baselines  # noqa: E402
from benchmarks.serving import BenchmarkError  # noqa: E402
from membership.models import CheckoutAttempt  # noqa: E402
from tests import stripe_events  # noqa: E402

BIN_DIR = Path(sys.executable).parent
HOST = "127.0.0.1"
PATH = webhook_baselines.PATH
GOAL_RATIO = 0.70
STARTUP_DEADLINE_S = 30.0
BENCH_DATABASE = "membership_bench"  # created and dropped here; never the ``test`` database
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EXAMPLES_SHOWN = 3


@dataclass(frozen=True)
class Target:
    """One app under test and how gunicorn finds it (all from the project root)."""

    key: str
    name: str
    app_spec: str


BARE = Target("bare", "bare POST", "benchmarks.webhook_baselines:bare_app")
DURABLE = Target("durable", "minimal durable webhook", "benchmarks.webhook_baselines:durable_app")
FULL = Target("full", "full webhook path", "wsgi:app")
TARGETS = (BARE, DURABLE, FULL)


@dataclass(frozen=True)
class Server:
    """A running gunicorn and the loopback port it answers on."""

    target: Target
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Tally:
    """What one target's clients got back: a count per status and a few non-200 answers."""

    done: int = 0
    not_ok: collections.Counter[int] = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.done += other.done
        self.not_ok.update(other.not_ok)
        room = EXAMPLES_SHOWN - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])


@dataclass(frozen=True)
class ClientResult:
    """One client's answers and when it started and stopped (CLOCK_MONOTONIC, system-wide)."""

    tally: Tally
    started: float
    finished: float


# -- Events ------------------------------------------------------------------------------


class EventMix:
    """Unique event bodies in the proportions a reader-supported newsroom sees.

    Renewals, subscription updates and refunds refer to subscriptions and payments
    created earlier in the same stream, so the handlers find (and update) real rows
    instead of taking their cheaper "never heard of it" branches.
    """

    KINDS = {
        "checkout.session.completed (one-time)": 25,
        "checkout.session.completed (subscription)": 15,
        "invoice.paid (renewal)": 35,
        "customer.subscription.updated": 15,
        "charge.refunded": 10,
    }

    def __init__(self, namespace: str, seed: int) -> None:
        # The checkout attempts the support form would have stored before these sessions;
        # inserted before the events are sent (``store_attempts``), outside the timing.
        self.new_attempts: list[dict[str, object]] = []
        self._rng = random.Random(seed)
        self._namespace = namespace
        self._serial = itertools.count(1)
        self._created = stripe_events.BASE_TIME
        self._customers: list[tuple[str, str]] = []  # (customer id, email)
        # (subscription id, customer id, email, amount, interval)
        self._subscriptions: list[tuple[str, str, str, int, str]] = []
        self._payment_intents: list[tuple[str, int]] = []  # unrefunded one-time gifts
        self._builders = {
            "checkout.session.completed (one-time)": self._one_time_gift,
            "checkout.session.completed (subscription)": self._subscription_checkout,
            "invoice.paid (renewal)": self._renewal,
            "customer.subscription.updated": self._subscription_updated,
            "charge.refunded": self._refund,
        }

    def bodies(self, count: int) -> list[str]:
        """The next ``count`` events of the stream, as the JSON Stripe would POST."""
        kinds = list(self.KINDS)
        weights = list(self.KINDS.values())
        return [
            json.dumps(self._builders[kind]())
            for kind in self._rng.choices(kinds, weights, k=count)
        ]

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self._namespace}{next(self._serial):07d}"

    def _event(self, event_type: str, obj: dict[str, object]) -> dict[str, object]:
        self._created += 1
        return stripe_events.event(event_type, obj, created=self._created, event_id=self._id("evt"))

    def _attempt(self, frequency: str, amount: int, session_id: str) -> str:
        """A checkout attempt as the support form stores it, with an id of the app's shape."""
        attempt_id = secrets.token_hex(16)  # unique across the three targets' mixes
        self.new_attempts.append(
            {
                "id": attempt_id,
                "frequency": frequency,
                "amount_minor": amount,
                "currency": "USD",
                "source": "https://news.example/articles/1",
                "utm_campaign": "footer",
                "stripe_session_id": session_id,
                "status": "open",
            }
        )
        return attempt_id

    def _customer(self, returning_share: float) -> tuple[str, str]:
        if self._customers and self._rng.random() < returning_share:
            return self._rng.choice(self._customers)
        customer = (self._id("cus"), f"reader{len(self._customers)}.{self._namespace}@example.org")
        self._customers.append(customer)
        return customer

    def _one_time_gift(self) -> dict[str, object]:
        customer, email = self._customer(returning_share=0.3)
        amount = self._rng.choice((1000, 2500, 5000, 10000))
        payment_intent = self._id("pi")
        self._payment_intents.append((payment_intent, amount))
        session_id = self._id("cs_test")
        session = stripe_events.checkout_session(
            mode="payment",
            amount=amount,
            attempt_id=self._attempt("once", amount, session_id),
            frequency="once",
            email=email,
            customer=customer,
            payment_intent=payment_intent,
            session_id=session_id,
            name="A Reader",
        )
        return self._event("checkout.session.completed", session)

    def _subscription_checkout(self) -> dict[str, object]:
        customer, email = self._customer(returning_share=0.1)
        frequency, interval, amount = self._rng.choice(
            (("monthly", "month", 500), ("monthly", "month", 1000), ("annual", "year", 10000))
        )
        subscription = self._id("sub")
        self._subscriptions.append((subscription, customer, email, amount, interval))
        session_id = self._id("cs_test")
        session = stripe_events.checkout_session(
            mode="subscription",
            amount=amount,
            attempt_id=self._attempt(frequency, amount, session_id),
            frequency=frequency,
            email=email,
            customer=customer,
            subscription=subscription,
            session_id=session_id,
            name="A Reader",
        )
        return self._event("checkout.session.completed", session)

    def _renewal(self) -> dict[str, object]:
        if not self._subscriptions:
            return self._subscription_checkout()
        subscription, customer, email, amount, _ = self._rng.choice(self._subscriptions)
        invoice = stripe_events.invoice(
            invoice_id=self._id("in"),
            subscription=subscription,
            customer=customer,
            amount=amount,
            email=email,
            paid_at=self._created,
        )
        return self._event("invoice.paid", invoice)

    def _subscription_updated(self) -> dict[str, object]:
        if not self._subscriptions:
            return self._subscription_checkout()
        subscription, customer, _, amount, interval = self._rng.choice(self._subscriptions)
        obj = stripe_events.subscription(
            subscription_id=subscription,
            customer=customer,
            amount=amount,
            interval=interval,
            cancel_at_period_end=self._rng.random() < 0.3,
        )
        return self._event("customer.subscription.updated", obj)

    def _refund(self) -> dict[str, object]:
        if not self._payment_intents:
            return self._one_time_gift()
        payment_intent, amount = self._payment_intents.pop(
            self._rng.randrange(len(self._payment_intents))
        )
        refunded = amount if self._rng.random() < 0.7 else amount // 2
        obj = stripe_events.charge(
            payment_intent=payment_intent,
            amount=amount,
            amount_refunded=refunded,
            charge_id=self._id("ch"),
        )
        return self._event("charge.refunded", obj)


# -- Databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(tmp_dir: Path) -> Iterator[str]:
    """A fresh SQLite file in the run's temporary folder (removed with it)."""
    yield f"sqlite:///{tmp_dir / 'membership-bench.sqlite3'}"


def postgres_url(admin_url: str, database: str) -> str:
    """The app's URL for ``database`` on the server and as the user of ``admin_url``."""
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    user, host, port = info.get("user", "postgres"), info.get("host", HOST), info.get("port", 5432)
    return f"postgresql+psycopg://{user}@{host}:{port}/{database}"


def postgres_problem(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A dedicated database, created for this run and dropped afterwards, whatever happens."""
    assert BENCH_DATABASE != "test"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        # A run killed with SIGKILL may have left it behind; it is ours by name.
        admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    try:
        yield postgres_url(admin_url, BENCH_DATABASE)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def server_environment(database_url: str, webhook_secret: str) -> dict[str, str]:
    """Development settings, test-mode Stripe keys, no leftovers from the caller's shell.

    SECRET_KEY is set so the app never reads or writes ``instance/dev-secret-key``;
    ``sk_test_`` makes the app expect ``livemode: false``, as the test events say.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "SUPPORT_", "GUNICORN_", "LISTEN_", "PG"))
        and key not in ("DATABASE_URL", "SECRET_KEY", "PUBLIC_BASE_URL", "FLASK_APP")
    }
    env.update(
        APP_ENV="development",
        DATABASE_URL=database_url,
        SECRET_KEY="benchmark-only-" + secrets.token_hex(16),
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_WEBHOOK_SECRET=webhook_secret,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def prepare_schema(env: dict[str, str]) -> None:
    """The app's schema from its Alembic migrations, as in production, plus the baseline's table."""
    serving.migrate(env, PROJECT_ROOT, BIN_DIR)
    webhook_baselines.create_table(env["DATABASE_URL"])


def stored_summary(database_url: str) -> str:
    """What the servers left in the database: proof the work was done, not just answered."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            statuses = conn.execute(
                text("SELECT status, count(*) FROM stripe_events GROUP BY status ORDER BY 1")
            ).all()
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in (
                    "benchmark_webhook_events",
                    "supporters",
                    "payments",
                    "recurring_supports",
                )
            }
    finally:
        engine.dispose()
    events = ", ".join(f"{status} {count:,}" for status, count in statuses) or "none"
    rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
    return f"stored: stripe_events ({events}); {rows}"


# -- Servers -----------------------------------------------------------------------------


def gunicorn_command(fd: int, args: argparse.Namespace, tmp_dir: Path, app_spec: str) -> list[str]:
    """Identical gunicorn settings for every target; only the app differs."""
    empty_config = tmp_dir / "gunicorn.conf.py"
    empty_config.touch()
    command = [
        str(BIN_DIR / "gunicorn"),
        "--config",
        str(empty_config),  # never pick up a ./gunicorn.conf.py someone left around
        "--bind",
        f"fd://{fd}",
        "--chdir",
        str(PROJECT_ROOT),
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        "--worker-tmp-dir",
        str(tmp_dir),
    ]
    return [*command, *serving.no_control_socket(), app_spec]


def start_server(
    target: Target, args: argparse.Namespace, env: dict[str, str], tmp_dir: Path
) -> Server:
    """Start gunicorn for the target on a free loopback port."""
    log_path = tmp_dir / f"{target.key}.log"
    port, process = serving.start_gunicorn(
        lambda fd: gunicorn_command(fd, args, tmp_dir, target.app_spec), PROJECT_ROOT, env, log_path
    )
    return Server(target, port, process, log_path)


def wait_until_ready(server: Server, deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Poll until the route answers (405 to a GET: no event is stored), or give up loudly."""
    serving.wait_until_ready(
        server.target.name,
        server.process,
        server.log_path,
        server.port,
        PATH,
        lambda status, body: status == 405,
        deadline_s,
    )


@contextlib.contextmanager
def running(
    args: argparse.Namespace,
    env: dict[str, str],
    tmp_dir: Path,
    targets: tuple[Target, ...] = TARGETS,
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
            serving.stop(server.process)


# -- Load --------------------------------------------------------------------------------


def sign(body: bytes, secret: bytes) -> str:
    """Stripe's ``Stripe-Signature`` for this body, stamped now (the app allows 300 s)."""
    timestamp = int(time.time())
    mac = hmac.new(secret, b"%d.%s" % (timestamp, body), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(port: int, bodies: list[str], secret: str, time_limit_s: float) -> ClientResult:
    """One client: POST each event on one keep-alive connection until done or out of time.

    ``http.client`` reconnects by itself when a server closes the connection (gunicorn's
    sync worker does after every response), so the same loop serves any worker class.
    """
    key = secret.encode()
    payloads = [body.encode() for body in bodies]
    tally = Tally()
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    started = time.monotonic()
    stop_at = started + time_limit_s
    try:
        for payload in payloads:
            if time.monotonic() >= stop_at:
                break
            headers = {"Content-Type": "application/json", "Stripe-Signature": sign(payload, key)}
            conn.request("POST", PATH, body=payload, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            tally.done += 1
            if response.status != 200:
                tally.not_ok[response.status] += 1
                if len(tally.examples) < EXAMPLES_SHOWN:
                    tally.examples.append(f"HTTP {response.status}: {answer[:300]!r}")
    finally:
        conn.close()
    return ClientResult(tally, started, time.monotonic())


def store_attempts(database_url: str, mix: EventMix) -> None:
    """Insert the checkout attempts the support form would have stored for these events."""
    if not mix.new_attempts:
        return
    now = datetime.now(UTC)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                CheckoutAttempt.__table__.insert(),
                [{**attempt, "created_at": now} for attempt in mix.new_attempts],
            )
    finally:
        engine.dispose()
    mix.new_attempts.clear()


def measure(
    pool: ProcessPoolExecutor,
    server: Server,
    bodies: list[str],
    args: argparse.Namespace,
    secret: str,
    time_limit_s: float,
) -> tuple[float, Tally]:
    """Events per second over all clients, from the first client's start to the last's end."""
    shares = [bodies[i :: args.clients] for i in range(args.clients)]
    futures = [
        pool.submit(deliver, server.port, share, secret, time_limit_s) for share in shares if share
    ]
    results = [future.result() for future in futures]
    tally = Tally()
    for result in results:
        tally.add(result.tally)
    elapsed = max(r.finished for r in results) - min(r.started for r in results)
    return tally.done / elapsed, tally


def run_rounds(
    servers: list[Server],
    args: argparse.Namespace,
    secret: str,
    namespace: str,
    database_url: str,
) -> tuple[dict[str, list[float]], dict[str, Tally]]:
    """Warm every server up, then alternate the order each round so drift hits all alike."""
    mixes = {
        server.target.key: EventMix(f"{namespace}{server.target.key[0]}", seed=7)
        for server in servers
    }
    rates: dict[str, list[float]] = {server.target.key: [] for server in servers}
    tallies: dict[str, Tally] = {server.target.key: Tally() for server in servers}
    warmup = max(args.events // 4, args.clients * 50)
    with ProcessPoolExecutor(max_workers=args.clients) as pool:
        for server in servers:  # imports, connection pools, the first subscriptions to renew
            bodies = mixes[server.target.key].bodies(warmup)
            store_attempts(database_url, mixes[server.target.key])
            _, tally = measure(pool, server, bodies, args, secret, 30)
            tallies[server.target.key].add(tally)
            report_failures(server.target, tally, "warm-up")
        for round_no in range(args.rounds):
            order = servers if round_no % 2 == 0 else servers[::-1]
            batches = {s.target.key: mixes[s.target.key].bodies(args.events) for s in order}
            for mix in mixes.values():
                store_attempts(database_url, mix)
            for server in order:
                rate, tally = measure(
                    pool, server, batches[server.target.key], args, secret, args.time_limit
                )
                rates[server.target.key].append(rate)
                tallies[server.target.key].add(tally)
                report_failures(server.target, tally, f"round {round_no + 1}")
            print(
                f"  round {round_no + 1}/{args.rounds}: "
                + ", ".join(f"{target.name} {rates[target.key][-1]:,.0f}/s" for target in TARGETS),
                flush=True,
            )
    for server in servers:
        if tallies[server.target.key].not_ok:
            tail = serving.log_tail(server.log_path)
            print(f"  last lines of the {server.target.name} server's log:\n{tail}")
    return rates, tallies


def report_failures(target: Target, tally: Tally, when: str) -> None:
    """Say at once when a server answered anything but 200: those rates mean nothing."""
    if not tally.not_ok:
        return
    counts = ", ".join(f"{count} x HTTP {status}" for status, count in sorted(tally.not_ok.items()))
    print(f"  ! {target.name}, {when}: {counts} of {tally.done} responses", flush=True)
    for example in tally.examples:
        print(f"      {example}", flush=True)


# -- Report ------------------------------------------------------------------------------


def ratio(rates: dict[str, list[float]], target: Target, baseline: Target) -> float:
    """Median over rounds of the ratio within each round: load that drifts between rounds
    (other work on the machine) cancels out, because both were measured back to back."""
    pairs = zip(rates[target.key], rates[baseline.key], strict=True)
    return statistics.median(value / base for value, base in pairs)


def report(database: str, rates: dict[str, list[float]], tallies: dict[str, Tally]) -> None:
    """The table, the goal, and whether this run met it on this database."""
    print()
    print(
        f"{database}: events/s (median of {len(rates[BARE.key])} rounds); "
        "ratios are medians of each round's ratio"
    )
    header = (
        f"{'target':<24} {'events/s':>9} {'min-max':>13} {'vs bare POST':>13} "
        f"{'vs durable':>11} {'non-200':>8}"
    )
    print(header)
    print("-" * len(header))
    for target in TARGETS:
        values = rates[target.key]
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(
            f"{target.name:<24} {statistics.median(values):>9,.0f} {spread:>13} "
            f"{ratio(rates, target, BARE):>13.0%} {ratio(rates, target, DURABLE):>11.0%} "
            f"{sum(tallies[target.key].not_ok.values()):>8,}"
        )
    full_ratio = ratio(rates, FULL, DURABLE)
    failures = sum(sum(tally.not_ok.values()) for tally in tallies.values())
    verdict = "MET" if full_ratio >= GOAL_RATIO and not failures else "NOT MET"
    print(f"goal: full path >= {GOAL_RATIO:.0%} of minimal durable webhook")
    print(
        f"result on {database}: full path is {full_ratio:.0%} of the minimal durable webhook"
        + (f" ({failures:,} non-200 responses: not a valid measurement)" if failures else "")
        + f" -> {verdict}",
        flush=True,
    )


# -- Main --------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Defaults sized so both databases finish in about two minutes on 2 cores."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=2000, help="events per target per round (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per target (default 5)")
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (default both)",
    )
    parser.add_argument(
        "--clients", type=int, default=4, help="concurrent client connections (default 4)"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    # gthread rather than sync: it keeps connections alive, and while one thread waits
    # for the database (a PostgreSQL round trip, the SQLite write lock) another computes.
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (default gthread)"
    )
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gunicorn worker (default 4)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=15.0,
        help="seconds one target may take in one round before it is cut short (default 15)",
    )
    parser.add_argument(
        "--postgres-admin-url",
        default=POSTGRES_ADMIN_URL,
        help=f"where to CREATE/DROP DATABASE {BENCH_DATABASE} (default {POSTGRES_ADMIN_URL})",
    )
    args = parser.parse_args(argv)
    for name in ("events", "rounds", "clients", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.databases = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown or not args.databases:
        parser.error("--databases takes sqlite, postgresql or both")
    return args


def benchmark_database(
    name: str, database_url: str, args: argparse.Namespace, tmp_dir: Path
) -> None:
    """Migrate, serve the three targets on this database, measure, report."""
    secret = "whsec_bench_" + secrets.token_hex(16)
    env = server_environment(database_url, secret)
    prepare_schema(env)
    print(f"\n{name}: warming up, then {args.rounds} rounds", flush=True)
    run_dir = tmp_dir / name
    run_dir.mkdir()
    with running(args, env, run_dir) as servers:
        rates, tallies = run_rounds(
            servers, args, secret, namespace=name[:2].lower(), database_url=database_url
        )
    report(name, rates, tallies)
    print(stored_summary(database_url), flush=True)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `running`, which stops the servers


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 whether or not the goal is met, 1 if it could not be measured."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    mix = ", ".join(f"{kind} {share}%" for kind, share in EventMix.KINDS.items())
    print(
        f"POST {PATH}: {args.rounds} rounds x {args.events} unique events per target, "
        f"{args.clients} keep-alive clients; gunicorn {args.workers} x {args.worker_class}"
        + (f" ({args.threads} threads)" if args.threads > 1 else "")
        + f" on {os.cpu_count()} CPUs\nmix: {mix}",
        flush=True,
    )
    databases = list(args.databases)
    if "postgresql" in databases:
        problem = postgres_problem(args.postgres_admin_url)
        if problem:
            print(f"PostgreSQL is unreachable ({problem}): benchmarking SQLite only", flush=True)
            databases = [name for name in databases if name != "postgresql"] or ["sqlite"]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
            tmp_dir = Path(tmp)
            for name in databases:
                if name == "sqlite":
                    with sqlite_database(tmp_dir) as url:
                        benchmark_database("SQLite", url, args, tmp_dir)
                else:
                    with postgres_database(args.postgres_admin_url) as url:
                        benchmark_database("PostgreSQL", url, args, tmp_dir)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
