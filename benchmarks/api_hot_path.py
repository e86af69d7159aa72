"""The hot path through the API: gunicorn on PostgreSQL, next to raw PostgreSQL doing the same rows.

The service runs as in production (governance_site.settings.base, DEBUG off, the project's
gunicorn.conf.py: its worker class and count), started here on a free port against the bench
database. The clients are processes speaking HTTP/1.1 (http.client, one connection each, kept
alive when the server keeps it). Every figure is measured in rounds, each round running the API
and its raw baseline back to back, so the machine's load drift hits both alike:

  - reserve + settle pairs/s at 8 clients, all on one domain and a domain each, next to
    `pgbench -N` (simple update) with as many clients, in a scratch schema of the same database;
  - reserve p50 at 1 client, next to pgbench -N's latency at 1 client;
  - single KPI POST /kpi at 8 clients, next to 8 psycopg connections inserting the same rows one
    autocommit INSERT each;
  - POST /kpi/batch of 5,000 events at 1 client, next to psycopg executemany and COPY of the same
    rows (one transaction each);
  - GET /go-live/check p50 at 1 client, next to psycopg reading the state row;
  - ExecutionClassMiddleware's cost on a PROD_EXEC view (it records one KPI event, the smallest
    production action), in process: one WSGI handler with the middleware and one without, taking
    requests in turn (the difference is a few hundred microseconds: the network would drown it).

DATABASE_URL names the bench database (default postgres://postgres@127.0.0.1:5432/
governance_bench_api), created and migrated when missing; only this script's domains are cleared.
"""

import datetime as dt
import http.client
import io
import json
import multiprocessing
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common as common

common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench_api")

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from golive import services as golive  # noqa: E402
from governance_site import roles, tokens  # noqa: E402
from risk import services as risk  # noqa: E402
from risk.models import DailyTotals, Reservation  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACTOR = "bench/api"
SECONDS = 5  # per throughput measurement
ROUNDS = 2
CLIENTS = 8
DOMAINS = [f"BENCH_API_{i}" for i in range(CLIENTS)]
KPI_DOMAIN = "BENCH_API_KPI"
BATCH = 5_000
BATCHES = 4  # per round and way
LATENCY_REQUESTS = 400  # per round, for the p50s
MIDDLEWARE_REQUESTS = 1_500  # per handler
PGBENCH_SCHEMA = "api_pgbench"
KPI_COLUMNS = ("domain", "metric", "success", "value", "actor", "occurred_at", "created_at", "model_version")
KPI_PLACES = ", ".join(["%s"] * len(KPI_COLUMNS))
KPI_INSERT = f"INSERT INTO regression_kpievent ({', '.join(KPI_COLUMNS)}) VALUES ({KPI_PLACES})"
KPI_COPY = f"COPY regression_kpievent ({', '.join(KPI_COLUMNS)}) FROM STDIN"


# The server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with the project's configuration (gunicorn.conf.py), production settings."""
    config = ROOT / "gunicorn.conf.py"
    how = ["-c", str(config)] if config.exists() else ["--workers", "3"]  # 3 sync: the issue's setup
    env = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_CLIENT_DEADLINE_MS"},
        "DJANGO_SETTINGS_MODULE": "governance_site.settings.base",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        # One token and one address make every request here: rates no engine fleet's limit would
        # be set to, so the throttles count (their cost is measured) but never refuse.
        "API_THROTTLE_RATE_PER_TOKEN": "1000000/minute",
        "API_THROTTLE_RATE_PER_ADDRESS": "1000000/minute",
        "DATABASE_STATEMENT_TIMEOUT_MS": "10000",  # the production default, not the bench's own
    }
    command = [sys.executable, "-m", "gunicorn", *how, "--bind", f"127.0.0.1:{port}", "governance_site.wsgi"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/api/governance/go-live/check")
            break
        except OSError:
            if server.poll() is not None:
                sys.exit(f"gunicorn exited: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    described = " ".join(how)
    return server, described


class Client:
    """One HTTP/1.1 connection to the server (reopened when the server closes it)."""

    def __init__(self, port: int, token: str):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(self, method: str, url: str, body=None, expect: int = 200):
        payload = None if body is None else json.dumps(body)
        try:
            self.connection.request(method, "/api/governance/" + url, payload, self.headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle kept-alive connection before this request reached it.
            self.connection.close()
            self.connection.request(method, "/api/governance/" + url, payload, self.headers)
            response = self.connection.getresponse()
        content = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {url}: {response.status} {content[:300]!r}")
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return json.loads(content) if content else None


# Workers (one process per client) ------------------------------------------------------------


def wait_until(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)


def reserve_settle_worker(port: int, token: str, domain: str, start_at: float, seconds: float):
    client = Client(port, token)
    wait_until(start_at)
    reserve_times, stop_at = [], start_at + seconds
    while time.time() < stop_at:
        started = time.perf_counter()
        entry = client.call("POST", "risk/reserve", {"domain": domain, "amount": "10"})
        reserve_times.append(time.perf_counter() - started)
        assert entry["ok"], entry
        client.call("POST", "risk/settle", {"reservation_id": entry["reservation_id"], "realized_pnl": "0"})
    return reserve_times


def kpi_worker(port: int, token: str, index: int, start_at: float, seconds: float):
    client = Client(port, token)
    wait_until(start_at)
    count, stop_at = 0, start_at + seconds
    while time.time() < stop_at:
        client.call("POST", "regression/kpi", {"domain": KPI_DOMAIN, "metric": f"m{index}", "success": True}, 201)
        count += 1
    return [count]


def insert_worker(dbname: str, index: int, start_at: float, seconds: float):
    with psycopg.connect(dbname=dbname, autocommit=True, **common.server()) as conn:
        wait_until(start_at)
        count, stop_at = 0, start_at + seconds
        while time.time() < stop_at:
            now = dt.datetime.now(dt.UTC)
            conn.execute(KPI_INSERT, (KPI_DOMAIN, f"m{index}", True, None, "bench", now, now, ""))
            count += 1
    return [count]


def in_processes(worker, args_of, clients: int = CLIENTS, seconds: float = SECONDS) -> list[list]:
    connections.close_all()  # never share the parent's connection
    start_at = time.time() + 1.0  # every process started and waiting
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        return pool.starmap(worker, [(*args_of(i), start_at, seconds) for i in range(clients)])


# Raw baselines --------------------------------------------------------------------------------


def pgbench(*args: str) -> str:
    return common.pgbench(*args, schema=PGBENCH_SCHEMA)


def pgbench_run(clients: int) -> tuple[float, float]:
    """(tps, average latency in ms) of `pgbench -N` with `clients` clients."""
    output = pgbench("-N", "-n", "-c", str(clients), "-j", str(clients), "-T", str(SECONDS))
    tps = float(re.search(r"tps = ([\d.]+)", output).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))
    return tps, latency


def kpi_rows(count: int) -> tuple[list[dict], list[tuple]]:
    start, now = timezone.now(), timezone.now()
    bodies = [
        {
            "domain": KPI_DOMAIN,
            "metric": f"metric_{i % 10}",
            "success": i % 10 != 0,
            "occurred_at": (start - dt.timedelta(milliseconds=count - i)).isoformat(),
        }
        for i in range(count)
    ]
    rows = [(b["domain"], b["metric"], b["success"], None, "bench", b["occurred_at"], now, "") for b in bodies]
    return bodies, rows


def clear_kpi() -> None:
    common.delete_own_rows("regression_kpievent", "domain = %s", [KPI_DOMAIN])


def timed_batch(run) -> float:
    clear_kpi()
    started = time.perf_counter()
    for _ in range(BATCHES):
        run()
    return time.perf_counter() - started


def state_read_ms(dbname: str) -> list[float]:
    """psycopg reading the go-live state row, one autocommit SELECT each: the check's raw work."""
    times = []
    with psycopg.connect(dbname=dbname, autocommit=True, **common.server()) as conn:
        for _ in range(LATENCY_REQUESTS):
            started = time.perf_counter()
            conn.execute("SELECT kill_switch_engaged, go_live_enabled FROM golive_golivestate WHERE id = 1").fetchone()
            times.append((time.perf_counter() - started) * 1000)
    return times


# The middleware, in process ------------------------------------------------------------------


urlpatterns = common.gated_urls(KPI_DOMAIN, ACTOR)


def handler(middleware: list[str]) -> WSGIHandler:
    with override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=__name__):
        return WSGIHandler()


def middleware_overhead() -> tuple[float, float]:
    """Median ms of the PROD_EXEC view's requests through a handler with every middleware of the
    settings, and through one without ExecutionClassMiddleware, taken in turn."""
    from django.conf import settings

    gate = "golive.middleware.ExecutionClassMiddleware"
    with_gate = handler(list(settings.MIDDLEWARE))
    without = handler([name for name in settings.MIDDLEWARE if name != gate])
    times = {with_gate: [], without: []}
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/engine/action", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "CONTENT_LENGTH": "0", "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["127.0.0.1"], SECURE_SSL_REDIRECT=False):
        for index in range(MIDDLEWARE_REQUESTS + 100):
            for which in (with_gate, without) if index % 2 else (without, with_gate):
                started = time.perf_counter()
                which({**environ, "wsgi.input": io.BytesIO(b"")}, lambda status, headers: None)
                if index >= 100:  # the first 100 warm up
                    times[which].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[with_gate]), statistics.median(times[without])


# Set-up ----------------------------------------------------------------------------------------


def engine_token() -> str:
    user, _ = get_user_model().objects.get_or_create(username="bench-api-engine")
    user.groups.add(Group.objects.get(name=roles.ENGINE))
    _, token = tokens.issue(user=user)
    return token


def prepare() -> str:
    common.prepare_database()
    golive.get_state()
    golive.set_go_live(enabled=True, reason="api benchmark", actor=ACTOR)
    for domain in DOMAINS:
        Reservation.objects.filter(domain=domain).delete()
        DailyTotals.objects.filter(domain=domain).delete()
        risk.upsert_policy(domain=domain, changes=common.unlimited_risk_policy(), actor=ACTOR, reason="benchmark")
    clear_kpi()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PGBENCH_SCHEMA} CASCADE; CREATE SCHEMA {PGBENCH_SCHEMA}")
    pgbench("-i", "-q", "-s", "1")
    return engine_token()


def p50(times: list[float]) -> float:
    return statistics.median(times)


def main() -> None:
    started = time.time()
    token = prepare()
    dbname = connection.settings_dict["NAME"]
    port = free_port()
    server, how = start_server(port)
    try:
        version = connection.cursor().connection.info.server_version
        print(f"PostgreSQL {version // 10000}.{version % 10000}, database {dbname}; gunicorn {how}", flush=True)
        figures = measure(port, token, dbname)
    finally:
        server.terminate()
        server.wait(30)
    report(figures)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {PGBENCH_SCHEMA} CASCADE")
    clear_kpi()
    print(f"\n({time.time() - started:.0f} s)")


def measure(port: int, token: str, dbname: str) -> dict[str, list]:
    figures = {name: [] for name in (
        "pgbench8", "shared", "spread", "pgbench1", "pgbench1_ms", "reserve1_ms", "kpi8", "insert8",
        "batch", "executemany", "copy", "check_ms", "state_ms",
    )}  # fmt: skip
    bodies, rows = kpi_rows(BATCH)
    batch_client = Client(port, token)

    def executemany():
        with psycopg.connect(dbname=dbname, **common.server()) as conn, conn.cursor() as cursor:
            cursor.executemany(KPI_INSERT, rows)

    def copy():
        with (
            psycopg.connect(dbname=dbname, **common.server()) as conn,
            conn.cursor() as cursor,
            cursor.copy(KPI_COPY) as pipe,
        ):
            for row in rows:
                pipe.write_row(row)

    for round_ in range(ROUNDS):
        tps, _ = pgbench_run(CLIENTS)
        figures["pgbench8"].append(tps)
        shared = in_processes(reserve_settle_worker, lambda i: (port, token, DOMAINS[0]))
        figures["shared"].append(sum(len(t) for t in shared) / SECONDS)
        spread = in_processes(reserve_settle_worker, lambda i: (port, token, DOMAINS[i]))
        figures["spread"].append(sum(len(t) for t in spread) / SECONDS)
        tps, latency = pgbench_run(1)
        figures["pgbench1"].append(tps)
        figures["pgbench1_ms"].append(latency)
        [alone] = in_processes(reserve_settle_worker, lambda i: (port, token, DOMAINS[0]), clients=1)
        figures["reserve1_ms"].append(p50(alone) * 1000)
        kpi = in_processes(kpi_worker, lambda i: (port, token, i))
        figures["kpi8"].append(sum(c for [c] in kpi) / SECONDS)
        raw = in_processes(insert_worker, lambda i: (dbname, i))
        figures["insert8"].append(sum(c for [c] in raw) / SECONDS)
        clear_kpi()
        api_seconds = timed_batch(lambda: batch_client.call("POST", "regression/kpi/batch", bodies, 201))
        figures["batch"].append(BATCHES * BATCH / api_seconds)
        figures["executemany"].append(BATCHES * BATCH / timed_batch(executemany))
        figures["copy"].append(BATCHES * BATCH / timed_batch(copy))
        clear_kpi()
        check, read = Client(port, token), state_read_ms(dbname)
        check_times = []
        for _ in range(LATENCY_REQUESTS):
            begun = time.perf_counter()
            check.call("GET", "go-live/check", expect=204)
            check_times.append((time.perf_counter() - begun) * 1000)
        figures["check_ms"].append(p50(check_times))
        figures["state_ms"].append(p50(read))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:,.1f}" for k, v in figures.items()), flush=True)
    gated, ungated = middleware_overhead()
    figures["gated_ms"], figures["ungated_ms"] = [gated], [ungated]
    clear_kpi()
    return figures


def report(figures: dict[str, list]) -> None:
    mean = {name: statistics.mean(values) for name, values in figures.items()}
    pg8, pg1 = mean["pgbench8"], mean["pgbench1"]
    overhead = (mean["gated_ms"] - mean["ungated_ms"]) / mean["ungated_ms"] * 100
    print(f"\nmeans of {ROUNDS} rounds ({SECONDS} s per throughput figure)")
    lines = [
        ("reserve+settle pairs/s, 8 clients, one domain", mean["shared"], "pairs/s", "pgbench -N tps, 8 clients", pg8,
         "≥ 0.3 × baseline", mean["shared"] >= 0.3 * pg8),
        ("reserve+settle pairs/s, 8 clients, a domain each", mean["spread"], "pairs/s", "pgbench -N tps, 8 clients",
         pg8, "≥ 0.3 × baseline", mean["spread"] >= 0.3 * pg8),
        ("reserve p50, 1 client", mean["reserve1_ms"], "ms", "pgbench -N latency, 1 client", mean["pgbench1_ms"],
         "≤ 5 ms", mean["reserve1_ms"] <= 5),
        ("single KPI POST /kpi, 8 clients", mean["kpi8"], "events/s", "autocommit INSERT, 8 connections",
         mean["insert8"], "≥ 0.25 × baseline", mean["kpi8"] >= 0.25 * mean["insert8"]),
        (f"KPI batch POST /kpi/batch ({BATCH:,} per request)", mean["batch"], "events/s", "psycopg executemany",
         mean["executemany"], "≥ 0.5 × baseline", mean["batch"] >= 0.5 * mean["executemany"]),
        (f"KPI batch POST /kpi/batch ({BATCH:,} per request)", mean["batch"], "events/s", "psycopg COPY",
         mean["copy"], "(shown)", True),
        ("go-live check p50, 1 client", mean["check_ms"], "ms", "psycopg SELECT of the state row", mean["state_ms"],
         "≤ 2 ms", mean["check_ms"] <= 2),
        ("PROD_EXEC view with ExecutionClassMiddleware (in process)", mean["gated_ms"], "ms",
         "the same view without it", mean["ungated_ms"], "< 5% added", overhead < 5),
    ]  # fmt: skip
    base_units = {"pgbench -N tps, 8 clients": "tps", "autocommit INSERT, 8 connections": "rows/s"}
    for figure, value, unit, baseline, base, goal, met in lines:
        verdict = "met" if met else "MISSED"
        print(
            f"  {figure:<58} {value:>10,.2f} {unit:<8} {baseline:<36} {base:>10,.2f}  {value / base:6.3f}  "
            f"{goal}: {verdict}"
        )
        common.record(
            figure, value, unit, baseline=baseline, base=base, goal=goal, met=met, base_unit=base_units.get(baseline)
        )
    print(f"  ExecutionClassMiddleware adds {overhead:.1f}% (pgbench -N at 1 client: {pg1:,.0f} tps)")


if __name__ == "__main__":
    main()
