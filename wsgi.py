"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

import gc

from membership import create_app

app = create_app()
# Everything built so far (modules, the app, compiled statements) lives as long as the
# process: keep the garbage collector from walking it again on every full collection.
gc.freeze()
