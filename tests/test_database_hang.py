"""A hung PostgreSQL (every process SIGSTOPped: the kernel still ACKs, the server enforces no timeout)
on an already open connection: the gate answers state_unavailable after the client-side deadline or
the request's database budget, whichever comes first, instead of hanging with it; a request that
found the database hung tries it no more (no reconnection, no second wait); and the service
recovers by itself when the server resumes.

The hang is caused on a throwaway cluster (the drills' harness: initdb into a temporary folder, its
own port), holding a copy of the test database: never on the machine's shared server."""

import contextlib
import shutil
import signal
import subprocess
import threading
from unittest import mock

import psycopg
import pytest
from django.db import OperationalError, close_old_connections, connection
from django.test import override_settings

from drills import harness
from governance_site import database
from tests.conftest import requires_postgres

HANG_SECONDS = 30  # the hang ends by itself after this, so a gate that waits fails instead of hanging
DEADLINE_MS = 1500  # short, to keep the test quick; the default is in settings
CHECK, RESERVE = "/api/governance/go-live/check", "/api/governance/risk/reserve"
UNAVAILABLE = {"ok": False, "reason": "state_unavailable"}

requires_initdb = pytest.mark.skipif(
    harness.find_pg_bin("initdb") is None, reason="needs initdb (a throwaway PostgreSQL cluster)"
)
pytestmark = [requires_postgres, requires_initdb, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def throwaway_cluster():
    """A PostgreSQL of our own (harness.Postgres); stopped and removed whatever happens."""
    folder, cluster = harness.workdir(), None
    try:
        cluster = harness.Postgres(folder)
        yield cluster
    finally:
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def hung(cluster, seconds: float):
    """Every process of the cluster stopped (SIGSTOP) until the block ends or `seconds` pass. Yields a
    dict whose "hung_throughout" says, afterwards, whether the hang still lasted when the block ended."""
    resumed, outcome = threading.Event(), {}

    def resume_later():
        resumed.wait(timeout=seconds)
        cluster.signal(signal.SIGCONT)

    cluster.signal(signal.SIGSTOP)
    resumer = threading.Thread(target=resume_later)
    resumer.start()
    try:
        yield outcome
    finally:
        outcome["hung_throughout"] = resumer.is_alive()
        resumed.set()
        resumer.join()


@contextlib.contextmanager
def connected_to_copy(port: int):
    """The default connection pointed at a copy (schema and rows) of the test database in the
    cluster on `port`, then back."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("HOST", "PORT")}
    name = settings_dict["NAME"]
    source = ["-h", settings_dict["HOST"] or "127.0.0.1", "-p", str(settings_dict["PORT"] or 5432), "-U", "postgres"]
    target = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    subprocess.run(["createdb", *target, name], check=True, capture_output=True, timeout=60)
    dump = subprocess.run(["pg_dump", *source, name], check=True, capture_output=True, timeout=120).stdout
    subprocess.run(["psql", *target, "-q", "-v", "ON_ERROR_STOP=1", name], input=dump, check=True, capture_output=True)
    connection.close()
    settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


@override_settings(DATABASE_CLIENT_DEADLINE_MS=DEADLINE_MS)
def test_gate__database_hung_on_an_open_connection__state_unavailable_then_recovers(api, engine, live):
    check = api(engine)
    reserve = api(engine)
    with throwaway_cluster() as cluster, connected_to_copy(cluster.port):
        assert check.get(CHECK).status_code == 204  # the connection is open
        with hung(cluster, HANG_SECONDS) as hang:
            response = check.get(CHECK)
        assert hang["hung_throughout"]  # answered during the hang: it did not wait for its end
        assert response.status_code == 423
        assert UNAVAILABLE.items() <= response.json().items()

        close_old_connections()  # as at the start of every request: the broken connection is dropped
        assert check.get(CHECK).status_code == 204
        body = {"domain": "WHOLESALE", "amount": "10"}
        assert reserve.post(RESERVE, body, format="json").status_code == 200
        with hung(cluster, HANG_SECONDS) as hang:
            response = reserve.post(RESERVE, body, format="json")
        assert hang["hung_throughout"]
        assert response.status_code == 200
        assert {**UNAVAILABLE, "reservation_id": None}.items() <= response.json().items()

        close_old_connections()
        assert check.get(CHECK).status_code == 204


@contextlib.contextmanager
def connection_attempts():
    """The list of the attempts to open a connection to PostgreSQL (psycopg's) made within the block."""
    attempts, connect = [], psycopg.connect

    def attempt(*args, **kwargs):
        attempts.append(kwargs)
        return connect(*args, **kwargs)

    with mock.patch.object(psycopg, "connect", attempt):
        yield attempts


@override_settings(DATABASE_CLIENT_DEADLINE_MS=DEADLINE_MS, DATABASE_REQUEST_BUDGET_MS=HANG_SECONDS * 1000)
def test_reserve__database_hung__no_reconnection_after_the_first_deadline(api, engine, live):
    """Once a call outlived its deadline, the request answers at once: it does not reconnect to the
    hung server (waiting out DATABASE_CONNECT_TIMEOUT) and wait again, one deadline after another
    (the pg-hang drill's 13-15 s answers with an 8 s deadline and a 5 s connect timeout)."""
    reserve = api(engine)
    body = {"domain": "WHOLESALE", "amount": "10"}
    with throwaway_cluster() as cluster, connected_to_copy(cluster.port):
        assert reserve.post(RESERVE, body, format="json").status_code == 200  # the connection is open
        with hung(cluster, HANG_SECONDS) as hang, connection_attempts() as attempts:
            response = reserve.post(RESERVE, body, format="json")
        assert hang["hung_throughout"]
        assert UNAVAILABLE.items() <= response.json().items()
        assert attempts == []


@override_settings(DATABASE_CLIENT_DEADLINE_MS=0, DATABASE_REQUEST_BUDGET_MS=DEADLINE_MS)
def test_gate__database_hung_and_no_client_deadline__the_request_budget_bounds_the_wait(api, engine, live):
    """The budget is the request's own deadline: with the per-call client deadline turned off, the
    gate still answers state_unavailable during the hang, and the next request, with a budget of its
    own, answers normally once the server resumes."""
    check = api(engine)
    with throwaway_cluster() as cluster, connected_to_copy(cluster.port):
        assert check.get(CHECK).status_code == 204
        with hung(cluster, HANG_SECONDS) as hang:
            response = check.get(CHECK)
        assert hang["hung_throughout"]
        assert response.status_code == 423
        assert UNAVAILABLE.items() <= response.json().items()

        close_old_connections()
        assert check.get(CHECK).status_code == 204


def test_budget__spent_or_database_found_unavailable__every_later_wait_refused_at_once():
    with database.request_budget(60_000):
        budget = database.current_budget()
        assert 0 < budget.remaining("a statement") <= 60
        budget.unavailable = True
        with pytest.raises(OperationalError, match="found unavailable earlier in this request"):
            budget.remaining("a statement")
    with database.request_budget(1):
        budget = database.current_budget()
        budget.deadline -= 1  # as if a second had gone by
        with pytest.raises(OperationalError, match="budget is spent"):
            budget.remaining("a connection")
    assert database.current_budget() is None  # outside a request: each call has its own deadline only
