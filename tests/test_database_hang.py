"""A hung PostgreSQL (every process SIGSTOPped: the kernel still ACKs, the server enforces no timeout)
on an already open connection: the gate answers state_unavailable after the client-side deadline,
instead of hanging with it, and recovers by itself when the server resumes.

The hang is caused on a throwaway cluster this module starts (initdb into a temporary folder, its
own port), holding a copy of the test database: never on the machine's shared server."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from django.db import close_old_connections, connection
from django.test import override_settings

from tests.conftest import requires_postgres

HANG_SECONDS = 30  # the hang ends by itself after this, so a gate that waits fails instead of hanging
DEADLINE_MS = 1500  # short, to keep the test quick; the default is in settings


def _pg_bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


requires_initdb = pytest.mark.skipif(_pg_bin("initdb") is None, reason="needs initdb (a throwaway PostgreSQL cluster)")
pytestmark = [requires_postgres, requires_initdb, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres() -> dict:
    """initdb and postgres refuse to run as root: run them as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")

    def demote():
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return {"preexec_fn": demote}


@contextlib.contextmanager
def throwaway_cluster():
    """A PostgreSQL of our own; yields (port, postmaster process); stopped and removed whatever happens."""
    workdir = tempfile.mkdtemp(prefix="hang-pg-")
    os.chmod(workdir, 0o777)
    port, process = _free_port(), None
    try:
        data = os.path.join(workdir, "data")
        subprocess.run(
            [_pg_bin("initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"],
            check=True, capture_output=True, timeout=120, **_as_postgres(),
        )  # fmt: skip
        args = [_pg_bin("postgres"), "-D", data, "-p", str(port), "-k", workdir, "-c", "listen_addresses=127.0.0.1"]
        args += ["-c", "fsync=off"]
        log = open(os.path.join(workdir, "postgres.log"), "ab")  # noqa: SIM115 (the child owns it)
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **_as_postgres())
        for _ in range(300):
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        yield port, process
    finally:
        if process is not None:
            signal_cluster(process, signal.SIGCONT)
            signal_cluster(process, signal.SIGKILL)
            process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def signal_cluster(process, sig: int) -> None:
    """To the postmaster and every backend (each backend is its own process group leader)."""
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(process.pid)], capture_output=True, text=True).stdout
    for pid in (process.pid, *(int(each) for each in children.split())):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def hung(process, seconds: float):
    """Every process of the cluster stopped (SIGSTOP) until the block ends or `seconds` pass. Yields a
    dict whose "hung_throughout" says, afterwards, whether the hang still lasted when the block ended."""
    resumed, outcome = threading.Event(), {}

    def resume_later():
        resumed.wait(timeout=seconds)
        signal_cluster(process, signal.SIGCONT)

    signal_cluster(process, signal.SIGSTOP)
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
    with throwaway_cluster() as (port, postgres), connected_to_copy(port):
        assert check.get("/api/governance/go-live/check").status_code == 204  # the connection is open
        with hung(postgres, HANG_SECONDS) as hang:
            response = check.get("/api/governance/go-live/check")
        assert hang["hung_throughout"]  # answered during the hang: it did not wait for its end
        assert response.status_code == 423
        assert {"ok": False, "reason": "state_unavailable"}.items() <= response.json().items()

        close_old_connections()  # as at the start of every request: the broken connection is dropped
        assert check.get("/api/governance/go-live/check").status_code == 204
        body = {"domain": "WHOLESALE", "amount": "10"}
        assert reserve.post("/api/governance/risk/reserve", body, format="json").status_code == 200
        with hung(postgres, HANG_SECONDS) as hang:
            response = reserve.post("/api/governance/risk/reserve", body, format="json")
        assert hang["hung_throughout"]
        assert (response.status_code, response.json()["ok"], response.json()["reason"]) == (
            200,
            False,
            "state_unavailable",
        )

        close_old_connections()
        assert check.get("/api/governance/go-live/check").status_code == 204
