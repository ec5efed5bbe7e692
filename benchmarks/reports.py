"""Render time of the staff dashboard and every report at N payments and N/5 supporters
(default 1,000,000 and 200,000), on SQLite and PostgreSQL, with a ratio to a trivial
staff page.

Goal (issue 5): every page under 100 ms at 1,000,000 payments; issue 18: the same at
10,000,000 on PostgreSQL. The dataset is built once per size and kept (SQLite:
``instance/bench-reports-<payments>.sqlite3``; PostgreSQL: the database named by
``--postgres-database``, ``bench_reports`` by default, created when missing and rebuilt
when its size differs) by the bulk demo path (``membership.demo.bulk``, what
``flask demo seed --bulk`` runs: the rows the ledger would write, proven equal to the
ledger path on a sample, with their rollups), and the time it took is printed.

Each page is requested through the Flask test client, signed in through the real
``/staff/login`` form, ``--requests`` times after one warm-up request; the median is
printed. The baseline is ``/staff/profile`` (a signed-in page that reads one row).

    .venv/bin/python benchmarks/reports.py [--payments 1000000] [--databases sqlite,postgresql]
        [--requests 7] [--rebuild] [--postgres-database bench_reports]
"""

from __future__ import annotations

import argparse
import gc
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
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from membership import create_app  # noqa: E402
from membership.demo import bulk  # noqa: E402
from membership.extensions import db  # noqa: E402
from membership.models import Payment, Supporter  # noqa: E402
from membership.reports import rollups  # noqa: E402

GOAL_MS = 100.0
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
STAFF_EMAIL = "bench-admin@newsroom.test"
STAFF_PASSWORD = "benchmark password 1234"


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
            fill_new_rollups()
            return
        started = time.perf_counter()
        tables = [t for t in db.metadata.sorted_tables if t.name != "alembic_version"]
        if db.engine.dialect.name == "postgresql":  # a DELETE checks every foreign key
            names = ", ".join(table.name for table in tables)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        else:
            for table in reversed(tables):
                db.session.execute(table.delete())
        db.session.commit()
        load = time.perf_counter()
        summary = bulk.load(
            supporters,
            payments,
            seed_value=5,
            progress=lambda done: print(
                f"    {done:,} supporters ({time.perf_counter() - load:.0f} s)", flush=True
            ),
        )
        print(
            f"  built {summary.supporters:,} supporters, {summary.payments:,} payments, "
            f"{summary.attempts:,} checkout attempts, {summary.recurring:,} recurring supports "
            f"(rollups and statistics included) in {time.perf_counter() - load:.0f} s "
            f"({time.perf_counter() - started:.0f} s with emptying the database)"
        )


def fill_new_rollups() -> None:
    """A dataset built before a migration added a rollup table (0020: daily revenue,
    failures, reminders) has it empty: fill it as an upgrade does, with
    ``flask reports rebuild-rollups`` (``rollups.rebuild``), and say how long it took."""
    empty = [
        model.__tablename__
        for model in rollups.ROLLUP_MODELS
        if db.session.scalar(select(model).limit(1)) is None
    ]
    if not empty:
        return
    started = time.perf_counter()
    read = rollups.rebuild()
    db.session.commit()
    print(
        f"  rollups filled ({', '.join(empty)} were empty): read "
        + ", ".join(f"{count:,} {kind}" for kind, count in read.items())
        + f" in {time.perf_counter() - started:.0f} s"
    )


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
        supporter = db.session.scalar(select(func.max(Supporter.id))) or 0
        # Demo emails are reader<run><n>@example.org (n from 0): a whole one, a part of one
        # (its number: the run is in every address), and a part of many.
        middle = supporter // 2
        email = db.session.scalar(select(Supporter.email).where(Supporter.id == middle))
    some = "12%40example"  # every supporter whose number ends in 12: one in a hundred
    rare = f"{middle - 1}%40"  # <n>@: one supporter (and any whose number ends so)
    this_month = datetime.now(UTC).strftime("%Y-%m")
    year_ago = (datetime.now(UTC) - timedelta(days=335)).strftime("%Y-%m")
    return [
        ("baseline: /staff/profile", "/staff/profile"),
        ("dashboard (this month)", "/staff/"),
        ("dashboard (12 months)", f"/staff/?from={year_ago}&to={this_month}"),
        ("supporters", "/staff/supporters"),
        ("supporters page 100", "/staff/supporters?page=100"),
        ("supporters search (common)", f"/staff/supporters?q={some}"),
        ("supporters search (one)", f"/staff/supporters?q={rare}"),
        ("supporters search (no match)", "/staff/supporters?q=nobody-at-all"),
        ("supporters search (an email)", f"/staff/supporters?q={email}"),
        ("supporter detail", f"/staff/supporters/{supporter}"),
        ("sources (this month)", "/staff/reports/sources"),
        ("sources (12 months)", f"/staff/reports/sources?from={year_ago}&to={this_month}"),
        ("at risk", "/staff/reports/at-risk"),
        ("cohorts", "/staff/reports/cohorts"),
        ("audit log", "/staff/audit"),
    ]


def time_pages(app: Flask, requests: int) -> list[tuple[str, float]]:
    client = signed_in(app)
    results = []
    for _, path in pages(app):
        assert client.get(path).status_code == 200, path  # warm-up
    # As wsgi.py does once the app is built: what lives as long as the process is not
    # walked again by every full collection (without it, one pass cost a page 50 ms).
    gc.freeze()
    for name, path in pages(app):
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, path
        results.append((name, statistics.median(times)))
    return results


def postgres_database(name: str) -> str:
    url = make_url(POSTGRES_SERVER + name)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--supporters", type=int, help="default: payments / 5")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset")
    parser.add_argument("--postgres-database", default="bench_reports")
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
            url = postgres_database(args.postgres_database)
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
