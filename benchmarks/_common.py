"""What every benchmark starts with: the project on sys.path, Django on the test settings against a
PostgreSQL bench database (DATABASE_URL, or the script's default), and that database prepared."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def start_django(default_database_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance_site.settings.test")
    os.environ.setdefault("DATABASE_URL", default_database_url)
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory
    # Loading millions of rows and rebuilding their indexes takes minutes: no statement timeout
    # for the benchmarks' own work (the service they start keeps the configured one).
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_MS", "0")
    os.environ.setdefault("DATABASE_CLIENT_DEADLINE_MS", "0")  # nor the client's deadline (issue 11d)
    import django

    django.setup()


def server() -> dict:
    """psycopg's connection arguments for the bench database's server (add dbname)."""
    from django.db import connection

    db = connection.settings_dict
    return {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"], "password": db["PASSWORD"]}


def delete_own_rows(table: str, where: str, params: list) -> None:
    """Delete a benchmark's own rows from an append-only table, whose trigger refuses DELETE: in
    one transaction with triggers off (session_replication_role = replica, which needs the bench
    database's superuser; the service never does this)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)


def unlimited_risk_policy() -> dict:
    """Changes that make a risk policy approve every reserve a benchmark makes in a day."""
    from decimal import Decimal

    from risk.models import MAX_DAILY_ACTIONS

    return {
        "enabled": True,
        "max_daily_loss": Decimal("1e15"),
        "max_open_exposure": Decimal("1e15"),
        "max_daily_actions": MAX_DAILY_ACTIONS,
        "max_action_amount": None,
    }


def gated_urls(kpi_domain: str, actor: str) -> list:
    """URL patterns: the governance API, and at engine/action an engine's production action behind
    the gate (a PROD_EXEC view that records one KPI event of `kpi_domain`)."""
    from django.http import JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    from golive.execution import execution_class
    from golive.models import ExecutionClass
    from regression import services as regression

    @csrf_exempt
    @execution_class(ExecutionClass.PROD_EXEC)
    def prod_exec_action(request):
        event, _ = regression.record_kpi(domain=kpi_domain, metric="action", success=True, actor=actor)
        return JsonResponse({"id": event.pk})

    return [path("engine/action", prod_exec_action), path("", include("governance_site.urls"))]


def pgbench(*args: str, schema: str) -> str:
    """pgbench's output, run against the bench database with its tables in `schema` (so no table
    of the project is touched)."""
    import subprocess

    db = server()
    env = {
        **os.environ,
        "PGHOST": db["host"],
        "PGPORT": str(db["port"]),
        "PGUSER": db["user"],
        "PGPASSWORD": db["password"] or "",
        "PGDATABASE": _database_name(),
        "PGOPTIONS": f"-c search_path={schema}",
    }
    return subprocess.run(["pgbench", *args], env=env, capture_output=True, text=True, check=True).stdout


def _database_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


def _admin_connection():
    import psycopg

    return psycopg.connect(dbname="postgres", autocommit=True, **server())


def prepare_database(*, fresh: bool = False) -> None:
    """Create the bench database when missing (drop it first when `fresh`), and migrate it."""
    from django.core.management import call_command
    from django.db import connection, connections
    from psycopg import sql

    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql":
        sys.exit(f"{sys.argv[0]} needs PostgreSQL: set DATABASE_URL=postgres://…")
    if fresh and "bench" not in name:
        sys.exit(f"{sys.argv[0]} drops its database: {name!r} does not look like a bench database")
    connections.close_all()
    with _admin_connection() as admin:
        if fresh:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    from django.db import connection, connections
    from psycopg import sql

    name = connection.settings_dict["NAME"]
    connections.close_all()
    with _admin_connection() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def record(
    figure: str, value: float, unit: str, *, baseline: str, base: float | None, goal: str, met: bool, base_unit=None
) -> None:
    """One row of the table `make bench` prints at the end (benchmarks/_table.py): a measured figure,
    the raw baseline it is compared with (measured in the same run; None when the goal is a
    ratio of two measured figures already), the goal and whether it is met. Written as a JSON line
    to the file BENCH_RESULTS names (nothing when unset: a script run on its own prints its own)."""
    row = {"figure": figure, "value": value, "unit": unit, "baseline": baseline, "base": base, "goal": goal}
    _append({**row, "base_unit": base_unit or unit, "met": bool(met)})


def note(line: str) -> None:
    """A line printed under the table (benchmarks/_table.py): what explains its figures."""
    _append({"note": line})


def _append(row: dict) -> None:
    """One JSON line to the file BENCH_RESULTS names (nothing when unset)."""
    import json

    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a") as results:
            results.write(json.dumps(row) + "\n")
