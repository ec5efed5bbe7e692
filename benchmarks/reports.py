"""Render time of the staff dashboard and every report at 200,000 supporters and
1,000,000 payments, on SQLite and PostgreSQL, with a ratio to a trivial staff page.

Goal (issue 5): every page under 100 ms. The dataset is built once per size and kept
(SQLite: ``instance/bench-reports-<payments>.sqlite3``; PostgreSQL: the database
``bench_reports``, created when missing and rebuilt when its size differs). It is
generated in bulk with Core ``INSERT``s (the ledger one event at a time would take
hours at this size; ``flask demo seed`` is the ledger path) and the rollups are then
computed by ``rollups.rebuild()``, as ``flask reports rebuild-rollups`` does.

Each page is requested through the Flask test client, signed in through the real
``/staff/login`` form, ``--requests`` times after one warm-up request; the median is
printed. The baseline is ``/staff/profile`` (a signed-in page that reads one row).

    .venv/bin/python benchmarks/reports.py [--payments 1000000] [--databases sqlite,postgresql]
        [--requests 7] [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import flask_migrate  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from membership import create_app  # noqa: E402
from membership.extensions import db  # noqa: E402
from membership.models import (  # noqa: E402
    CheckoutAttempt,
    Payment,
    PaymentFailure,
    RecurringSupport,
    Supporter,
)
from membership.reminders.models import Reminder  # noqa: E402
from membership.reports import rollups  # noqa: E402

GOAL_MS = 100.0
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_reports"
STAFF_EMAIL = "bench-admin@newsroom.test"
STAFF_PASSWORD = "benchmark password 1234"
BATCH = 10_000
MONTHS = 24
ARTICLES = [f"https://news.example/story/{n}" for n in range(300)]
CAMPAIGNS = [None, None, "newsletter", "year-end", "press-freedom-day", "podcast"]
CURRENCIES = ["USD"] * 7 + ["EUR"] * 2 + ["GBP"]


def environ(database_url: str) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": "http://bench.test",
    }


# -- Dataset ---------------------------------------------------------------------------------


def ensure_dataset(app: Flask, payments: int, supporters: int, force: bool) -> None:
    with app.app_context():
        flask_migrate.upgrade()
        have = db.session.scalar(select(func.count()).select_from(Payment))
        if have == payments and not force:
            print(f"  dataset ready: {payments:,} payments")
            return
        started = time.perf_counter()
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "alembic_version":
                db.session.execute(table.delete())
        db.session.commit()
        build(payments, supporters)
        print(f"  built {payments:,} payments in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        rollups.rebuild()
        db.session.commit()
        print(f"  rollups rebuilt in {time.perf_counter() - started:.0f} s")
        if db.engine.dialect.name == "postgresql":
            for table in ("supporters", "recurring_supports", "payments", "payment_failures"):
                db.session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def build(payment_total: int, supporter_total: int) -> None:
    """Supporters, their checkouts, recurring supports, payments (2% refunded, 0.5%
    disputed), failures and reminders over the last 24 months, inserted in batches."""
    rng = random.Random(5)
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=MONTHS * 30)
    span = int((now - first).total_seconds())
    recurring_share = 0.4
    pay_id = 0
    sub_id = 0
    payments: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    recurring_rows: list[dict[str, Any]] = []
    supporters: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    reminders: list[dict[str, Any]] = []
    # Recurring supporters' renewals come first; one-time gifts fill up to the total.
    budget_recurring = int(payment_total * 0.75)
    once_budget = payment_total - supporter_total  # extra gifts beyond each one's first

    def flush(force: bool = False) -> None:
        """Insert every pending row (parents first) once any kind has a batch ready."""
        tables = (
            (Supporter, supporters),
            (CheckoutAttempt, attempts),
            (RecurringSupport, recurring_rows),
            (Payment, payments),
            (PaymentFailure, failures),
            (Reminder, reminders),
        )
        if not force and all(len(rows) < BATCH for _, rows in tables):
            return
        for model, rows in tables:
            if rows:
                db.session.execute(insert(model.__table__), rows)
                rows.clear()
        db.session.commit()

    def payment(
        supporter: int, amount: int, currency: str, paid_at: datetime, **extra: Any
    ) -> None:
        nonlocal pay_id
        pay_id += 1
        refunded, disputed, status, dispute = 0, 0, "succeeded", None
        roll = rng.random()
        if roll < 0.02:
            refunded = amount if rng.random() < 0.7 else amount // 2
            status = "refunded" if refunded == amount else "partially_refunded"
        elif roll < 0.025:
            dispute = rng.choice(["needs_response", "under_review", "lost", "won"])
            disputed = amount if dispute != "won" else 0
            status = {"lost": "dispute_lost", "won": "succeeded"}.get(dispute, "disputed")
        payments.append(
            {
                "id": pay_id,
                "stripe_payment_intent_id": f"pi_bench{pay_id}",
                "stripe_customer_id": f"cus_bench{supporter}",
                "supporter_id": supporter,
                "amount_minor": amount,
                "amount_refunded_minor": refunded,
                "amount_disputed_minor": disputed,
                "currency": currency,
                "status": status,
                "dispute_status": dispute,
                "paid_at": paid_at,
                "created_at": paid_at,
                "stripe_invoice_id": extra.get("invoice"),
                "stripe_subscription_id": extra.get("subscription"),
                "recurring_support_id": extra.get("recurring_support_id"),
                "frequency": extra["frequency"],
                "checkout_attempt_id": extra["attempt"]["id"],
                "source": extra["attempt"]["source"],
                "utm_source": None,
                "utm_medium": None,
                "utm_campaign": extra["attempt"]["utm_campaign"],
                "utm_content": None,
            }
        )

    for n in range(1, supporter_total + 1):
        start = first + timedelta(seconds=rng.randint(0, span))
        currency = rng.choice(CURRENCIES)
        supporters.append(
            {
                "id": n,
                "email": f"reader{n}@example.org",
                "name": f"Reader {n}",
                "stripe_customer_id": f"cus_bench{n}",
                "created_at": start,
            }
        )
        recurring = budget_recurring > 0 and rng.random() < recurring_share
        frequency = rng.choice(["monthly"] * 4 + ["annual"]) if recurring else "once"
        amount = rng.choice(
            {"once": [1000, 2500, 5000], "monthly": [500, 1000], "annual": [5000, 10000]}[frequency]
        )
        attempt = {
            "id": f"{n:032x}",
            "frequency": frequency,
            "amount_minor": amount,
            "currency": currency,
            "source": rng.choice(ARTICLES),
            "utm_campaign": rng.choice(CAMPAIGNS),
            "stripe_session_id": f"cs_bench{n}",
            "status": "paid",
            "supporter_id": n,
            "created_at": start,
        }
        attempts.append(attempt)
        if rng.random() < 0.5:
            attempts.append(
                {
                    **attempt,
                    "id": f"e{n:031x}",
                    "stripe_session_id": f"cs_bench{n}x",
                    "status": "expired",
                    "supporter_id": None,
                }
            )
        if rng.random() < 0.1:
            reminders.append(
                {
                    "token": f"bench{n}",
                    "email": f"reader{n}@example.org",
                    "due_at": start,
                    "source": attempt["source"],
                    "status": rng.choice(["sent", "converted", "cancelled"]),
                    "attempts": 1,
                    "sent_at": start,
                    "converted_at": start if rng.random() < 0.5 else None,
                    "created_at": start - timedelta(days=7),
                    "updated_at": start,
                }
            )
        if frequency == "once":
            payment(n, amount, currency, start, frequency="once", attempt=attempt)
        else:
            sub_id += 1
            step = timedelta(days=30 if frequency == "monthly" else 365)
            months_kept = int(rng.expovariate(1 / 14)) + 1
            moment, made, ended = start, 0, None
            while moment <= now and budget_recurring > 0:
                if made >= months_kept:
                    ended = moment - timedelta(days=3)
                    break
                payment(
                    n,
                    amount,
                    currency,
                    moment,
                    frequency=frequency,
                    attempt=attempt,
                    invoice=f"in_bench{pay_id + 1}",
                    subscription=f"sub_bench{sub_id}",
                    recurring_support_id=sub_id,
                )
                if rng.random() < 0.03:
                    failures.append(
                        {
                            "stripe_invoice_id": f"in_fail{pay_id}",
                            "attempt_count": 1,
                            "stripe_subscription_id": f"sub_bench{sub_id}",
                            "supporter_id": n,
                            "recurring_support_id": sub_id,
                            "amount_minor": amount,
                            "currency": currency,
                            "failed_at": moment + timedelta(days=1),
                        }
                    )
                made += 1
                budget_recurring -= 1
                moment += step
            status = "canceled" if ended else rng.choice(["active"] * 19 + ["past_due"])
            recurring_rows.append(
                {
                    "id": sub_id,
                    "stripe_subscription_id": f"sub_bench{sub_id}",
                    "stripe_customer_id": f"cus_bench{n}",
                    "supporter_id": n,
                    "frequency": frequency,
                    "amount_minor": amount,
                    "currency": currency,
                    "status": status,
                    "cancel_at_period_end": False,
                    "started_at": start,
                    "canceled_at": ended,
                    "ended_at": ended,
                    "status_as_of": ended or start,
                    "created_at": start,
                    "checkout_attempt_id": attempt["id"],
                    "source": attempt["source"],
                    "utm_campaign": attempt["utm_campaign"],
                }
            )
            once_budget -= made - 1
        flush()
    # Regulars: more one-time gifts by random supporters until the total is reached.
    while pay_id < payment_total:
        n = rng.randint(1, supporter_total)
        attempt = {"id": f"{n:032x}", "source": rng.choice(ARTICLES), "utm_campaign": None}
        paid_at = first + timedelta(seconds=rng.randint(0, span))
        payment(
            n,
            rng.choice([1000, 2500]),
            rng.choice(CURRENCIES),
            paid_at,
            frequency="once",
            attempt=attempt,
        )
        if len(payments) >= BATCH:
            flush()
    flush(force=True)


# -- Timing ----------------------------------------------------------------------------------


def signed_in(app: Flask) -> Any:
    from membership.staff import service
    from membership.staff.models import StaffUser

    with app.app_context():
        if db.session.scalar(select(StaffUser).where(StaffUser.email == STAFF_EMAIL)) is None:
            service.create_staff(STAFF_EMAIL, "admin", STAFF_PASSWORD)
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "no CSRF token on /staff/login"
    response = client.post(
        "/staff/login",
        data={"csrf_token": token.group(1), "email": STAFF_EMAIL, "password": STAFF_PASSWORD},
    )
    assert response.status_code == 302, "benchmark sign-in failed"
    return client


def pages(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        supporter = db.session.scalar(select(func.max(Supporter.id)))
    this_month = datetime.now(UTC).strftime("%Y-%m")
    year_ago = (datetime.now(UTC) - timedelta(days=335)).strftime("%Y-%m")
    return [
        ("baseline: /staff/profile", "/staff/profile"),
        ("dashboard (this month)", "/staff/"),
        ("dashboard (12 months)", f"/staff/?from={year_ago}&to={this_month}"),
        ("supporters", "/staff/supporters"),
        ("supporters page 100", "/staff/supporters?page=100"),
        ("supporters search (common)", "/staff/supporters?q=reader12"),
        ("supporters search (no match)", "/staff/supporters?q=nobody-at-all"),
        ("supporters search (an email)", "/staff/supporters?q=reader123%40example.org"),
        ("supporter detail", f"/staff/supporters/{supporter}"),
        ("sources (this month)", "/staff/reports/sources"),
        ("sources (12 months)", f"/staff/reports/sources?from={year_ago}&to={this_month}"),
        ("at risk", "/staff/reports/at-risk"),
        ("cohorts", "/staff/reports/cohorts"),
    ]


def time_pages(app: Flask, requests: int) -> list[tuple[str, float]]:
    client = signed_in(app)
    results = []
    for name, path in pages(app):
        assert client.get(path).status_code == 200, path  # warm-up
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        results.append((name, statistics.median(times)))
    return results


def postgres_database() -> str:
    url = make_url(POSTGRES_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return POSTGRES_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--supporters", type=int, help="default: payments / 5")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset")
    args = parser.parse_args(argv)
    supporters = args.supporters or args.payments // 5
    table: dict[str, list[tuple[str, float]]] = {}
    for database in args.databases.split(","):
        print(f"{database}: {supporters:,} supporters, {args.payments:,} payments")
        if database == "sqlite":
            path = PROJECT_ROOT / "instance" / f"bench-reports-{args.payments}.sqlite3"
            path.parent.mkdir(exist_ok=True)
            url = f"sqlite:///{path}"
        else:
            url = postgres_database()
        app = create_app(environ(url))
        ensure_dataset(app, args.payments, supporters, args.rebuild)
        table[database] = time_pages(app, args.requests)
        with app.app_context():
            db.engine.dispose()
    print()
    header = f"{'page':32}" + "".join(f"{d + ' ms':>16}{'ratio':>8}" for d in table)
    print(header)
    print("-" * len(header))
    names = [name for name, _ in next(iter(table.values()))]
    slow = []
    for i, name in enumerate(names):
        cells = ""
        for database, results in table.items():
            baseline = results[0][1]
            ms = results[i][1]
            cells += f"{ms:16.1f}{ms / baseline:8.1f}"
            if i and ms >= GOAL_MS:
                slow.append(f"{name} on {database}")
        print(f"{name:32}{cells}")
    print()
    print(
        f"goal: every page under {GOAL_MS:.0f} ms: "
        + ("met" if not slow else "NOT met: " + ", ".join(slow))
    )
    return 0 if not slow else 1


if __name__ == "__main__":
    sys.exit(main())
