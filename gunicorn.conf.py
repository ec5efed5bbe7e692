"""How gunicorn serves the app (README, Deploying): ``.venv/bin/gunicorn -c gunicorn.conf.py
--bind 127.0.0.1:8000 wsgi:app`` for readers and staff, and a second one for Stripe's
webhooks (``--workers 1 --threads 8 --bind 127.0.0.1:8001``, the proxy routing
``/stripe/webhook`` to it) so no surge of readers keeps them waiting; any flag given on
the command line wins over this file.

Continue waits on Stripe to open a Checkout Session, a few hundred milliseconds. A sync
worker would sit idle through that wait while every other request (the support page, an
article's prompt check, Stripe's webhooks) queued behind it. gthread workers give each
request a thread, so a wait on Stripe costs a thread, not a worker, and the rest goes on.
Threads, not gevent's greenlets: SQLite's writers queue on ``flock`` and SQLite's own
busy wait, neither of which gevent can switch away from, so one waiting writer would
stop its whole worker. What is shared between threads is safe to share (README,
Deploying: the Stripe client, the limiter, sessions, the caches).
"""

import os

# Two workers per core the process may run on. The Python work of each request holds its
# worker's interpreter lock, and a thread waiting for that lock among dozens of busy ones
# waits longest: the operating system shares the cores between processes more evenly
# than the interpreter shares its lock between threads. In benchmarks/surge.py on 2
# cores (PostgreSQL, four alternating runs each) two workers of 64 threads gave 84-86%
# of the ideal Continues and a webhook p99 of 203-254 ms; four of 32 gave 87-91% and
# 101-235 ms (benchmarks/README.md).
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (cores or 1)))
# The app refuses per-process rate limits (RATELIMIT_STORAGE_URI=memory://) in production
# when several workers serve: it learns how many from here.
os.environ["WEB_CONCURRENCY"] = str(workers)
worker_class = "gthread"
# Each reader waiting on Stripe holds a thread; a request that finds every thread of its
# worker busy waits for one. Connections are spread unevenly between workers, so each
# worker keeps room for about twice its share of a surge's waiting readers.
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
