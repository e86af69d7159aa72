"""gunicorn's configuration for production (`gunicorn governance_site.wsgi` reads it from the
project folder); each value can be overridden by the environment variable named next to it.

Threads (gthread), not sync workers: engines call the hot endpoints back to back from a few
connections, and a sync worker closes every connection after one answer, so each request paid a
new TCP connection and waited for a free process. With gthread the connection stays open
(keep-alive) and a process's threads overlap their database round trips. Measured by
benchmarks/api_hot_path.py's clients (8 engines, a domain each, reserve+settle pairs; PostgreSQL
on the same 2-core machine, heavily shared, in turn, twice; the README's Production section has
the table): 3 sync workers 7.7 pairs/s, 5 sync 1.6, gthread 2×4 23.9, 3×4 24.2, 4×2 16.4.
Processes beyond the cores add no throughput (the GIL is per process, but the cores are shared);
threads cover the waits. Each thread keeps its own database connection (DATABASE_CONN_MAX_AGE),
so a machine holds WEB_CONCURRENCY × WEB_THREADS connections: past one machine, put PgBouncer in
transaction mode between them and PostgreSQL (see the README).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
worker_class = "governance_site.gunicorn_worker.JsonErrorWorker"  # gthread; its own refusals in JSON
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("WEB_THREADS", 4))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))  # seconds an idle client connection stays open
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# What gunicorn reads of a request before the application sees it (its defaults, stated): past
# them it answers 414 / 431 itself, in JSON like every answer (the worker class above), and the
# OpenAPI schema documents both for every operation. No query string of this API comes near.
limit_request_line = 4094  # bytes
limit_request_fields = 100
limit_request_field_size = 8190  # bytes
accesslog = None  # the reverse proxy logs requests; errors go to stderr
