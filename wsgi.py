"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

import gc
import sys

from membership import create_app
from membership.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # A setting to fix is one sentence for the operator, not a traceback to read through.
    print(f"membership: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
# Everything built so far (modules, the app, compiled statements) lives as long as the
# process: keep the garbage collector from walking it again on every full collection.
gc.freeze()
