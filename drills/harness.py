"""The drills' own services and processes: a PostgreSQL cluster (initdb into a temporary folder), a
Redis, gunicorn, Celery worker and beat, all on free ports, all killed at exit (and with the drills'
process, however it dies: each is started with PR_SET_PDEATHSIG).

The machine's shared PostgreSQL, Redis and RabbitMQ are never touched. The application under
test is the tree in DRILL_SRC (default: this repository), run with DRILL_PYTHON (default: that
tree's .venv/bin/python, else this interpreter).
"""

import atexit
import contextlib
import ctypes
import dataclasses
import glob
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = Path(os.environ.get("DRILL_SRC", HERE.parent)).resolve()
PYTHON = os.environ.get("DRILL_PYTHON") or (
    str(SRC / ".venv/bin/python") if (SRC / ".venv/bin/python").exists() else sys.executable
)
START_TIMEOUT = 60  # seconds for any service to answer after it was started

_processes: list[subprocess.Popen] = []


def log(message: str) -> None:
    print(f"[drills {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _kill_all() -> None:
    """Kill every process (and its process group) a drill started, newest first."""
    for process in reversed(_processes):
        stop(process, sig=signal.SIGKILL)


atexit.register(_kill_all)


def exit_on_termination() -> None:
    """SIGTERM or SIGHUP end the drills through sys.exit, so that the atexit clean-ups run (the
    drills' entry point calls it; a test using the harness keeps its runner's own handlers)."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))


def _die_with_parent() -> None:
    """In the child: SIGKILL when the drills' process dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(
    args: list[str], *, log_path: Path, env: dict | None = None, cwd: Path = SRC, as_postgres: bool = False
) -> subprocess.Popen:
    """Start a process in its own process group (so it and its children can be signalled at once),
    killed when the drills die; `as_postgres`: as the `postgres` user when we are root."""
    demote = _as_postgres_user().get("preexec_fn") if as_postgres else None

    def prepare():
        if demote:
            demote()
        _die_with_parent()  # after the change of user, which clears it

    handle = open(log_path, "ab")  # noqa: SIM115 (the child owns it)
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=prepare,
    )
    handle.close()
    _processes.append(process)
    return process


def signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def stop(process: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Signal the process group, wait, then SIGKILL whatever is left of it."""
    if process.poll() is None:
        signal_group(process, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    signal_group(process, signal.SIGKILL)  # children that outlived their parent
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def free_port(start: int) -> int:
    """The first port from `start` that nothing listens on (and that can be bound)."""
    for port in range(start, start + 500):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {start}")


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            result = predicate()
            if result:
                return result
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def find_pg_bin(name: str) -> str | None:
    """A PostgreSQL program on the PATH, else from the newest /usr/lib/postgresql/*/bin; None if neither."""
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


def _pg_bin(name: str) -> str:
    found = find_pg_bin(name)
    if not found:
        raise RuntimeError(f"{name} not found (install postgresql)")
    return found


class Postgres:
    """A throwaway cluster: initdb into a temporary folder, trust auth, its own port."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "pgdata"
        self.port = free_port(55432)
        self.log = workdir / "postgres.log"
        subprocess.run(
            [_pg_bin("initdb"), "-D", self.dir, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
            **_as_postgres_user(),
        )
        with open(self.dir / "postgresql.conf", "a") as conf:
            # fsync off: a drill survives a process crash (WAL reaches the kernel at each commit),
            # not a machine crash. synchronous_commit stays on, so "acknowledged" means committed.
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{workdir}'\n"
                "max_connections = 300\nfsync = off\nfull_page_writes = off\nshared_buffers = 64MB\n"
            )
        self.process = None
        self.start()

    def start(self) -> None:
        """The postmaster as our child (so it dies with the drills), answering within START_TIMEOUT."""
        self.process = spawn([_pg_bin("postgres"), "-D", str(self.dir)], log_path=self.log, as_postgres=True)
        wait_until(lambda: self.sql("SELECT 1") or True, timeout=START_TIMEOUT, what="postgres")
        _clusters.add(self)

    def stop(self, mode: str = "immediate") -> None:
        """As `pg_ctl stop -m MODE`: immediate (SIGQUIT, a crash: recovery from the WAL at the next
        start) or fast (SIGINT)."""
        stop(self.process, sig={"immediate": signal.SIGQUIT, "fast": signal.SIGINT}[mode], timeout=60)

    def signal(self, sig: int) -> None:
        """To the postmaster and every backend (SIGSTOP / SIGCONT)."""
        pid = self.process.pid
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        for each in (pid, *(int(p) for p in children.split())):
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, sig)

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, *, db: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.signal(signal.SIGCONT)
            self.stop("immediate")


_clusters: set[Postgres] = set()
atexit.register(lambda: [pg.shutdown() for pg in list(_clusters)])


def _as_postgres_user() -> dict:
    """initdb refuses to run as root: run the cluster as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return {}
    import pwd

    entry = pwd.getpwnam("postgres")

    def demote():
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)

    return {"preexec_fn": demote}


class Redis:
    def __init__(self, workdir: Path):
        self.port = free_port(56379)
        self.workdir = workdir
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = spawn(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            log_path=self.workdir / "redis.log",
            cwd=self.workdir,
        )
        wait_until(self._ping, timeout=START_TIMEOUT, what="redis")

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        stop(self.process, sig=signal.SIGKILL)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"


@dataclasses.dataclass
class App:
    """One database of the drill's cluster with the application migrated into it, its users and tokens."""

    pg: Postgres
    db: str
    workdir: Path
    broker: str = "memory://"
    tokens: dict = dataclasses.field(default_factory=dict)
    processes: list = dataclasses.field(default_factory=list)  # what it started, stopped by stop_all

    def _started(self, process: subprocess.Popen) -> subprocess.Popen:
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            stop(process)

    def env(self, **extra) -> dict:
        env = {
            **os.environ,
            "PYTHONPATH": str(SRC),
            "DJANGO_SETTINGS_MODULE": "governance_site.settings.base",
            "DATABASE_URL": self.pg.url(self.db),
            "CELERY_BROKER_URL": self.broker,
            "SECRET_KEY": _SECRET_KEY,
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def ctl(self, *args: str, timeout: float = 300) -> dict:
        """Run drills/appctl.py (inside the application, with its ORM); returns its JSON answer."""
        result = subprocess.run(
            [PYTHON, str(HERE / "appctl.py"), *args],
            cwd=SRC,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"appctl {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def ctl_background(self, *args: str, name: str) -> subprocess.Popen:
        """appctl.py in the background; its answer is read with ctl_result."""
        process = spawn([PYTHON, str(HERE / "appctl.py"), *args], log_path=self.workdir / f"{name}.log", env=self.env())
        process.log_path = self.workdir / f"{name}.log"
        return self._started(process)

    def verify(self, told: dict, *, name: str) -> dict:
        """appctl.py verify-load on what the clients were told (kept in the work folder)."""
        path = self.workdir / f"{name}-told.json"
        path.write_text(json.dumps(told))
        return self.ctl("verify-load", str(path))

    def ctl_result(self, process: subprocess.Popen, *, timeout: float) -> dict:
        process.wait(timeout=timeout)
        lines = process.log_path.read_text().strip().splitlines()
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"appctl failed ({process.returncode}):\n" + "\n".join(lines[-30:]))
        return json.loads(lines[-1])

    def gunicorn(self, *, workers: int = 3, timeout: int = 60, name: str = "web") -> "Web":
        port = free_port(58000)
        process = spawn(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "governance_site.wsgi",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                str(timeout),
                "--graceful-timeout",
                "5",
                "--backlog",
                "512",
                "--error-logfile",
                "-",
            ],  # fmt: skip
            log_path=self.workdir / f"{name}-{port}.log",
            env=self.env(),
        )
        web = Web(port=port, process=self._started(process))
        wait_until(lambda: web.get("/api/schema/", token=None)[0] in (200, 401, 403), timeout=START_TIMEOUT, what=name)
        return web

    def celery(self, role: str, *extra: str, name: str | None = None) -> subprocess.Popen:
        args = [PYTHON, "-m", "celery", "-A", "governance_site", role, "--loglevel=INFO", *extra]
        if role == "beat":
            args += ["--schedule", str(self.workdir / f"{name or 'beat'}-schedule"), "--max-interval", "1"]
        return self._started(spawn(args, log_path=self.workdir / f"{name or role}.log", env=self.env()))


_SECRET_KEY = secrets.token_urlsafe(50)


def new_app(pg: Postgres, workdir: Path, name: str, *, broker: str = "memory://", engines: int = 0) -> App:
    """A fresh database (a copy of the migrated template) with users, roles and tokens."""
    if not getattr(pg, "_template_ready", False):
        log(f"migrating the application ({SRC}) into the drill's PostgreSQL on port {pg.port}")
        pg.sql("DROP DATABASE IF EXISTS drill_template")
        pg.sql("CREATE DATABASE drill_template")
        template = App(pg=pg, db="drill_template", workdir=workdir)
        result = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"],
            cwd=SRC,
            env=template.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py migrate failed: {result.stderr.strip().splitlines()[-1:]}")
        pg._template_ready = True
    pg.sql(f"CREATE DATABASE {name} TEMPLATE drill_template")
    app = App(pg=pg, db=name, workdir=workdir, broker=broker)
    app.tokens = app.ctl("users", str(engines))
    return app


@dataclasses.dataclass
class Web:
    port: int
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, *, token: str | None, body=None, raw: bytes | None = None,
                timeout: float = 30, headers: dict | None = None):  # fmt: skip
        """(status, headers, body bytes); status 0 when no answer came (refused, reset, timed out).

        A server may answer before it has read the whole body (413): the answer is still read when
        sending the rest fails."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        if token:
            all_headers["Authorization"] = f"Token {token}"
        all_headers.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=data, headers=all_headers)
            except OSError as error:  # sending failed: the server may have answered already
                sent_error = error
            else:
                sent_error = None
            try:
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (OSError, http.client.HTTPException) as error:
                return 0, {}, repr(sent_error or error).encode()
        finally:
            conn.close()

    def get(self, path: str, *, token: str | None, **kwargs):
        return self.request("GET", path, token=token, **kwargs)

    def post(self, path: str, body=None, *, token: str | None, **kwargs):
        return self.request("POST", path, token=token, body=body, **kwargs)


def is_json(headers: dict, body: bytes) -> bool:
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "json" not in content_type:
        return False
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


def new_seed() -> int:
    """A random seed for a drill (printed with its results), or DRILL_SEED to replay one."""
    return int(os.environ.get("DRILL_SEED") or random.SystemRandom().randrange(2**32))


def describe(headers: dict, body: bytes, limit: int = 100) -> str:
    """A JSON body, shortened; of anything else only its content type and size."""
    if is_json(headers, body):
        text = " ".join(body.decode("utf-8", "replace").split())
        return text if len(text) <= limit else text[:limit] + "…"
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "no content type")
    return f"({content_type.split(';')[0]}, {len(body)} bytes)"


def workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="drills-"))
    os.chmod(path, 0o777)  # the cluster runs as `postgres` when we are root
    return path
