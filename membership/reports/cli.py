"""``flask export ...``: CSV of payments and supporters to stdout."""

from __future__ import annotations

from flask.cli import AppGroup

export_cli = AppGroup("export", help="Write CSV exports to stdout.")
