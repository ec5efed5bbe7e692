"""What the app logs reaches stderr under gunicorn and the CLI, in one documented format,
without personal data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import app_environ

PROJECT = Path(__file__).resolve().parents[1]
SCRIPT = """
import logging
from membership import create_app
create_app({env!r})
create_app({env!r})  # a second app adds no second handler
logging.getLogger("membership.webhooks.service").warning(
    "refused %s", "/staff/supporters?q=reader@example.org"
)
logging.getLogger("membership.reminders.sender").info("sent %d reminders", 3)
logging.getLogger("membership.reminders.sender").debug("not shown")
"""


def test_the_apps_records_go_to_stderr_in_the_documented_format(tmp_path: Path) -> None:
    env = app_environ(f"sqlite:///{tmp_path}/log.sqlite3", APP_ENV="development")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(env=env)],
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " membership." in line]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert len(lines) == 2, result.stderr
    assert re.fullmatch(
        stamp
        + r" WARNING membership\.webhooks\.service: refused /staff/supporters\?\[query removed\]",
        lines[0],
    )
    assert re.fullmatch(stamp + r" INFO membership\.reminders\.sender: sent 3 reminders", lines[1])
    assert "reader@example.org" not in result.stderr


def test_the_development_server_announces_no_versions(tmp_path: Path) -> None:
    """``make run``'s server answered ``Server: Werkzeug/3.x Python/3.11``: what to attack."""
    from werkzeug.serving import WSGIRequestHandler

    from membership import create_app

    create_app(app_environ(f"sqlite:///{tmp_path}/v.sqlite3", APP_ENV="development"))
    banner = WSGIRequestHandler.version_string(None)  # type: ignore[arg-type]
    assert banner == "membership"
