"""Regression Tripwire: KPI events per second through the API, next to plain psycopg in the same run.

The same rows go into the same table (regression_kpievent) six ways:
  - POST /kpi, one event per request (token auth, DRF validation, one commit per event), as
    configured (CONN_MAX_AGE 0: a new database connection per request) and with a persistent one;
  - POST /kpi/batch, 10,000 events per request (one transaction per batch);
  - psycopg, one INSERT and one COMMIT per event (what the single endpoint must at least pay);
  - psycopg executemany, one transaction;
  - psycopg COPY, one transaction.
The API runs in this process through DRF's test client (the full middleware, authentication,
parsing, validation and service stack; no network and no WSGI server), so the ratios show what
the Django layers cost over the database's own work.

DATABASE_URL names the bench database (default postgres://postgres@127.0.0.1:5432/
governance_bench_regression), created and migrated when missing; only this script's rows
(domain BENCH_INGEST) are deleted before each measurement. Every way runs once per round, eight
rounds, so that the machine's load drift hits them alike.
"""

import datetime as dt
import json
import os
import time

import _common as common

os.environ.setdefault("API_THROTTLE_RATE_PER_TOKEN", "1000000/minute")  # count, never refuse, the one token
os.environ.setdefault("API_THROTTLE_RATE_PER_ADDRESS", "1000000/minute")
common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench_regression")

import psycopg  # noqa: E402
from _common import prepare_database, server  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from governance_site import roles, tokens  # noqa: E402

DOMAIN = "BENCH_INGEST"
ROUNDS = 8
SINGLE_EVENTS = 250  # per round, one request or one commit each
BATCH_SIZE = 10_000  # per round, one request or one transaction
COLUMNS = ("domain", "metric", "success", "value", "actor", "occurred_at", "created_at", "model_version")
INSERT = f"INSERT INTO regression_kpievent ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
COPY = f"COPY regression_kpievent ({', '.join(COLUMNS)}) FROM STDIN"


def events(count: int) -> list[dict]:
    """Event bodies as an engine sends them: 10 metrics, 9 in 10 a success, 1 ms apart."""
    start = timezone.now()
    return [
        {
            "domain": DOMAIN,
            "metric": f"metric_{i % 10}",
            "success": i % 10 != 0,
            "occurred_at": (start - dt.timedelta(milliseconds=count - i)).isoformat(),
        }
        for i in range(count)
    ]


def rows(bodies: list[dict]) -> list[tuple]:
    now = timezone.now()
    return [(b["domain"], b["metric"], b["success"], None, "bench", b["occurred_at"], now, "") for b in bodies]


def clear() -> None:
    common.delete_own_rows("regression_kpievent", "domain = %s", [DOMAIN])


def engine_client() -> APIClient:
    user, _ = get_user_model().objects.get_or_create(username="bench-engine")
    user.groups.add(Group.objects.get(name=roles.ENGINE))
    _, token = tokens.issue(user=user, days=1)
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def timed(count: int, run) -> float:
    """Seconds `run()` takes to store `count` events; checks they were all stored."""
    clear()
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM regression_kpievent WHERE domain = %s", [DOMAIN])
        assert cursor.fetchone()[0] == count
    return seconds


def post(client: APIClient, path: str, payloads: list[str]) -> None:
    for payload in payloads:
        response = client.post(f"/api/governance/regression/{path}", payload, content_type="application/json")
        assert response.status_code == 201, response.content


def post_persistent(client: APIClient, payloads: list[str]) -> None:
    """As `post` to /kpi, keeping the database connection (what CONN_MAX_AGE > 0 would give)."""
    connection.settings_dict["CONN_MAX_AGE"] = None
    try:
        post(client, "kpi", payloads)
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0


def psycopg_connection() -> psycopg.Connection:
    return psycopg.connect(dbname=connection.settings_dict["NAME"], **server())


def insert_and_commit_each(data: list[tuple]) -> None:
    with psycopg_connection() as conn:
        for row in data:
            conn.execute(INSERT, row)
            conn.commit()


def executemany(data: list[tuple]) -> None:
    with psycopg_connection() as conn, conn.cursor() as cursor:
        cursor.executemany(INSERT, data)


def copy(data: list[tuple]) -> None:
    with psycopg_connection() as conn, conn.cursor() as cursor, cursor.copy(COPY) as pipe:
        for row in data:
            pipe.write_row(row)


def main() -> None:
    prepare_database()
    client = engine_client()
    single, batch = events(SINGLE_EVENTS), events(BATCH_SIZE)
    single_json, batch_json = [json.dumps(body) for body in single], [json.dumps(batch)]
    single_rows, batch_rows = rows(single), rows(batch)
    ways = {
        "POST /kpi (1 event per request)": (SINGLE_EVENTS, lambda: post(client, "kpi", single_json)),
        "POST /kpi, persistent database connection": (SINGLE_EVENTS, lambda: post_persistent(client, single_json)),
        "psycopg INSERT + COMMIT per event": (SINGLE_EVENTS, lambda: insert_and_commit_each(single_rows)),
        f"POST /kpi/batch ({BATCH_SIZE:,} per request)": (BATCH_SIZE, lambda: post(client, "kpi/batch", batch_json)),
        "psycopg executemany (one transaction)": (BATCH_SIZE, lambda: executemany(batch_rows)),
        "psycopg COPY (one transaction)": (BATCH_SIZE, lambda: copy(batch_rows)),
    }
    seconds = dict.fromkeys(ways, 0.0)
    for _ in range(ROUNDS):
        for name, (count, run) in ways.items():
            seconds[name] += timed(count, run)
    clear()
    rate = {name: ROUNDS * count / seconds[name] for name, (count, _) in ways.items()}
    for name, events_per_second in rate.items():
        print(f"{name:<44} {events_per_second:>10,.0f} events/s")
    single_api, kept, per_commit, batch_api, many, copied = rate.values()
    print()
    for label, ratio in [
        ("single endpoint / psycopg INSERT + COMMIT per event", single_api / per_commit),
        ("single endpoint, persistent connection / the same", kept / per_commit),
        ("single endpoint / psycopg executemany", single_api / many),
        ("batch endpoint  / psycopg executemany", batch_api / many),
        ("batch endpoint  / psycopg COPY", batch_api / copied),
    ]:
        print(f"{label:<52} {ratio:6.3f}")


if __name__ == "__main__":
    main()
