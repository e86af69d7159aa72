"""Where a hot request's time goes: reserve, settle, a single KPI POST, the go-live check and a
PROD_EXEC view behind ExecutionClassMiddleware, each as shares of its total.

In process, on PostgreSQL: one Django WSGI handler with the settings' whole middleware, called as
gunicorn would call it (no network, no server), with an engine's API token. Chosen functions are
wrapped for the run (nothing of the project changes) and every microsecond of a request is
credited to the innermost wrapped function running then, so the shares add up to 100%:

  database      psycopg sending statements, COMMITs and ROLLBACKs and waiting for their answers
                (the round trips: network, PostgreSQL's work, psycopg's adaptation)
  ORM           Django building SQL and making rows and objects of the answers
  auth          DRF's authentication (the token, remembered: governance_site.authentication)
  input         reading the body and validating it (DRF parsers, serializers, the lean KPI input)
  service       the services' own Python (risk.services.reserve/settle, regression.services.
                record_kpi, golive.services.may_execute, regression.selectors.kpi_warnings)
  output        serializing the answer and rendering it to JSON
  framework     the rest: Django's handler and middleware, DRF's dispatch, permissions, throttles

`make bench` runs it: its lines explain the table's misses (a share of framework Python that no
change of a statement count removes). DATABASE_URL names the bench database (default
postgres://postgres@127.0.0.1:5432/governance_bench_profile), created and migrated when missing;
only this script's domains are cleared.
"""

import functools
import io
import json
import os
import statistics
import time

import _common as common

os.environ.setdefault("API_THROTTLE_RATE_PER_TOKEN", "1000000/minute")  # counted, never refusing, the one token
os.environ.setdefault("API_THROTTLE_RATE_PER_ADDRESS", "1000000/minute")
common.start_django("postgres://postgres@127.0.0.1:5432/governance_bench_profile")

import psycopg  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Model, QuerySet  # noqa: E402
from django.db.models.sql import compiler  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.template.response import SimpleTemplateResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework import serializers  # noqa: E402
from rest_framework.request import Request  # noqa: E402

from golive import apis as golive_apis  # noqa: E402
from golive import services as golive  # noqa: E402
from governance_site import roles, tokens  # noqa: E402
from regression import apis as regression_apis  # noqa: E402
from regression import selectors as regression_selectors  # noqa: E402
from regression import services as regression  # noqa: E402
from risk import apis as risk_apis  # noqa: E402
from risk import services as risk  # noqa: E402
from risk.models import DailyTotals, Reservation  # noqa: E402

ACTOR = "bench/profile"
DOMAIN = "BENCH_PROFILE"
KPI_DOMAIN = "BENCH_PROFILE_KPI"
REQUESTS = 400  # per endpoint, after WARM_UP
WARM_UP = 50
CATEGORIES = ("database", "ORM", "auth", "input", "service", "output", "framework")


class Ledger:
    """Exclusive time per category: each moment goes to the innermost wrapped call running."""

    def __init__(self):
        self.seconds = dict.fromkeys(CATEGORIES, 0.0)
        self.stack = ["framework"]
        self.since = time.perf_counter()

    def _switch(self, to: str | None) -> None:
        now = time.perf_counter()
        self.seconds[self.stack[-1]] += now - self.since
        self.since = now
        if to is None:
            self.stack.pop()
        else:
            self.stack.append(to)

    def wrap(self, owner, name: str, category: str) -> None:
        original = owner.__dict__[name]
        kind = type(original) if isinstance(original, property | classmethod) else None
        function = {property: getattr(original, "fget", None), classmethod: getattr(original, "__func__", None)}.get(
            kind, original
        )

        @functools.wraps(function)
        def timed(*args, **kwargs):
            self._switch(category)
            try:
                return function(*args, **kwargs)
            finally:
                self._switch(None)

        setattr(owner, name, kind(timed) if kind else timed)

    def close(self) -> None:
        """Credit the time up to now (a request has ended)."""
        self._switch("framework")
        self.stack.pop()

    def reset(self) -> None:
        self.seconds = dict.fromkeys(CATEGORIES, 0.0)
        self.stack, self.since = ["framework"], time.perf_counter()


LEDGER = Ledger()
WRAPPED = [
    (psycopg.Cursor, "execute", "database"),
    (psycopg.Cursor, "executemany", "database"),
    (psycopg.Connection, "commit", "database"),
    (psycopg.Connection, "rollback", "database"),
    (compiler.SQLCompiler, "execute_sql", "ORM"),
    (compiler.SQLInsertCompiler, "execute_sql", "ORM"),
    (compiler.SQLUpdateCompiler, "execute_sql", "ORM"),
    (QuerySet, "_fetch_all", "ORM"),
    (Model, "save_base", "ORM"),
    (Request, "_authenticate", "auth"),
    (Request, "_load_data_and_files", "input"),
    (golive_apis, "validated", "input"),  # each API module's own name for governance_site.fields.validated
    (risk_apis, "validated", "input"),
    (regression_apis, "validated", "input"),
    (regression_apis.PlainKpiInput, "event", "input"),
    (risk, "reserve", "service"),
    (risk, "settle", "service"),
    (regression, "record_kpi", "service"),
    (golive, "may_execute", "service"),
    (regression_selectors, "kpi_warnings", "service"),
    (serializers.Serializer, "data", "output"),
    (SimpleTemplateResponse, "render", "output"),
    (JsonResponse, "__init__", "output"),
]


urlpatterns = common.gated_urls(KPI_DOMAIN, ACTOR)


def prepare() -> str:
    common.prepare_database()
    golive.set_go_live(enabled=True, reason="profile benchmark", actor=ACTOR)
    Reservation.objects.filter(domain=DOMAIN).delete()
    DailyTotals.objects.filter(domain=DOMAIN).delete()
    risk.upsert_policy(domain=DOMAIN, changes=common.unlimited_risk_policy(), actor=ACTOR, reason="benchmark")
    common.delete_own_rows("regression_kpievent", "domain = %s", [KPI_DOMAIN])
    user, _ = get_user_model().objects.get_or_create(username="bench-profile-engine")
    user.groups.add(Group.objects.get(name=roles.ENGINE))
    _, token = tokens.issue(user=user)
    return token


class Caller:
    """Requests straight into the WSGI handler, as gunicorn would make them."""

    def __init__(self, token: str):
        self.handler = WSGIHandler()
        self.token = token
        self.statements = 0

    def __call__(self, method: str, url: str, body=None) -> dict | None:
        payload = b"" if body is None else json.dumps(body).encode()
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": url, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(payload),
            "CONTENT_LENGTH": str(len(payload)), "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Token {self.token}", "REMOTE_ADDR": "127.0.0.1",
        }  # fmt: skip
        answer = []
        with connection.execute_wrapper(self._count):
            response = self.handler(environ, lambda status, headers: answer.append(status))
            content = b"".join(response)
        if not answer[0].startswith("2"):
            raise RuntimeError(f"{method} {url}: {answer[0]} {content[:300]!r}")
        return json.loads(content) if content else None

    def _count(self, execute, sql, params, many, context):
        self.statements += 1
        return execute(sql, params, many, context)


def profile(name: str, request, caller: Caller) -> dict:
    for _ in range(WARM_UP):
        request()
    caller.statements, totals, times = 0, dict.fromkeys(CATEGORIES, 0.0), []
    for _ in range(REQUESTS):
        LEDGER.reset()
        started = time.perf_counter()
        request()
        times.append(time.perf_counter() - started)
        LEDGER.close()
        for category, seconds in LEDGER.seconds.items():
            totals[category] += seconds
    whole = sum(totals.values())
    return {
        "name": name,
        "p50_ms": statistics.median(times) * 1000,
        "statements": caller.statements / REQUESTS,
        "shares": {category: seconds / whole for category, seconds in totals.items()},
    }


def main() -> None:
    started = time.time()
    token = prepare()
    for owner, name, category in WRAPPED:
        LEDGER.wrap(owner, name, category)
    with override_settings(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["127.0.0.1"], SECURE_SSL_REDIRECT=False):
        caller = Caller(token)
        api = "/api/governance/"
        entries = []

        def reserve():
            entries.append(caller("POST", api + "risk/reserve", {"domain": DOMAIN, "amount": "10"})["reservation_id"])

        def settle():
            if not entries:
                reserve()
            caller("POST", api + "risk/settle", {"reservation_id": entries.pop(), "realized_pnl": "-1"})

        def kpi():
            caller("POST", api + "regression/kpi", {"domain": KPI_DOMAIN, "metric": "m", "success": True})

        rows = [
            profile("reserve", reserve, caller),
            profile("settle (a pnl booked)", settle, caller),
            profile("single KPI POST", kpi, caller),
            profile("go-live check", lambda: caller("GET", api + "go-live/check"), caller),
            profile("PROD_EXEC view (one KPI event) with the gate", lambda: caller("POST", "/engine/action"), caller),
        ]
    connections.close_all()
    report(rows)
    common.delete_own_rows("regression_kpievent", "domain = %s", [KPI_DOMAIN])
    print(f"\n({time.time() - started:.0f} s)")


def report(rows: list[dict]) -> None:
    """Printed here and under make bench's table (its misses are explained there)."""
    lines = [
        f"where a request's time goes, in process ({REQUESTS} requests each; shares of the total):",
        f"  {'request':<46} {'p50':>8} {'stmts':>5} " + " ".join(f"{c:>9}" for c in CATEGORIES),
    ]
    for row in rows:
        shares = " ".join(f"{row['shares'][c]:>9.0%}" for c in CATEGORIES)
        lines.append(f"  {row['name']:<46} {row['p50_ms']:>6.2f}ms {row['statements']:>5.1f} {shares}")
    lines.append("  (stmts: statements sent, BEGIN and COMMIT not counted; database: the round trips, COMMITs")
    lines.append("   included; every other column is Python in this process: benchmarks/hot_path_profile.py)")
    print("\n" + "\n".join(lines))
    for line in lines:
        common.note(line)


if __name__ == "__main__":
    main()
