"""Rows per second and peak memory of the payments and supporters exports, from the
command line (``flask export payments``) and as the staff download
(``/staff/exports/payments.csv``).

Goal (issue 18, point 3): at 10,000,000 payments, under 200 MB of peak resident memory
and at least 100,000 rows a second, both ways. Runs against the dataset that
``benchmarks/reports.py`` built and kept (SQLite file or PostgreSQL database of that
size). Each export runs in a process of its own, writing to ``/dev/null`` (the command)
or read piece by piece through the Flask test client (the download, signed in through
``/staff/login``); its peak RSS is the kernel's (``wait4``), its CPU time user + system.

    .venv/bin/python benchmarks/exports.py [--payments 10000000] [--database postgresql|sqlite]
        [--postgres-database bench_reports] [--runs 1] [--exports payments,supporters]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.reports import POSTGRES_SERVER, environ  # noqa: E402

GOAL_RSS_MB = 200
GOAL_ROWS_PER_SECOND = 100_000


def database_url(args: argparse.Namespace) -> str:
    if args.database == "sqlite":
        path = PROJECT_ROOT / "instance" / f"bench-reports-{args.payments}.sqlite3"
        if not path.exists():
            sys.exit(f"{path} is missing: run benchmarks/reports.py --payments {args.payments}")
        return f"sqlite:///{path}"
    return POSTGRES_SERVER + args.postgres_database


def measured(command: list[str], env: dict[str, str]) -> tuple[int, float, float, float]:
    """Rows, wall seconds, CPU seconds and peak RSS (MB) of a child process that writes
    CSV lines to stdout (the lines are counted here, less the header)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE)
    assert child.stdout is not None
    lines = 0
    while piece := child.stdout.read(1 << 20):
        lines += piece.count(b"\n")
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{command} failed")
    return lines - 1, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def download(url: str, name: str) -> None:
    """In the child: the staff download of ``name`` (payments or supporters), read piece
    by piece and written to stdout."""
    from benchmarks.reports import signed_in
    from membership import create_app

    app = create_app(environ(url))
    client = signed_in(app)
    page = client.get("/staff/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "no CSRF token on the dashboard"
    response = client.get(f"/staff/exports/{name}.csv?csrf_token={token.group(1)}", buffered=False)
    assert response.status_code == 200, response.status
    out = sys.stdout.buffer
    for piece in response.response:
        out.write(piece)
    out.flush()
    response.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=10_000_000)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres-database", default="bench_reports")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--exports", default="payments,supporters")
    parser.add_argument("--child-download", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_download:
        download(*args.child_download)
        return 0
    url = database_url(args)
    env = {**os.environ, **environ(url), "FLASK_APP": "membership:create_app"}
    flask = str(Path(sys.executable).parent / "flask")
    ways: dict[str, list[str]] = {}
    for export in args.exports.split(","):
        ways[f"flask export {export}"] = [flask, "export", export]
        ways[f"staff download {export}"] = [
            sys.executable,
            __file__,
            "--child-download",
            url,
            export,
        ]
    print(f"{args.database}, {args.payments:,} payments; load: {os.getloadavg()}")
    print(f"{'export':28}{'rows':>12}{'rows/s':>10}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}")
    failed = []
    for name, command in ways.items():
        for _ in range(args.runs):
            rows, wall, cpu, peak = measured(command, env)
            rate = rows / wall
            print(f"{name:28}{rows:12,}{rate:10,.0f}{wall:9.1f}{cpu:8.1f}{peak:9.0f}")
            if peak >= GOAL_RSS_MB or rate < GOAL_ROWS_PER_SECOND:
                failed.append(name)
    print(f"load after: {os.getloadavg()}")
    goal = f"under {GOAL_RSS_MB} MB and {GOAL_ROWS_PER_SECOND:,} rows/s or more"
    print(f"goal: {goal}: " + ("met" if not failed else "NOT met: " + ", ".join(failed)))
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
