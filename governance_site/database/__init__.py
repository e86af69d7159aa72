"""The PostgreSQL backend with a client-side deadline (ENGINE "governance_site.database").

The server enforces statement and lock timeouts, but a server that does not run at all (every
process stopped, a frozen VM) enforces nothing, and its kernel still acknowledges TCP, so neither
keepalives nor tcp_user_timeout notice: a call on an open connection would wait forever. Each call
that waits on the server (a statement, commit, rollback, the health check) is armed with a
deadline of DATABASE_CLIENT_DEADLINE_MS; past it, a watchdog thread shuts the connection's socket
down, the blocked call raises OperationalError, and the caller answers as it does whenever the
database is unavailable (decisions fail closed with `state_unavailable`, writes a 503); Django then
discards the broken connection. Web requests, Celery tasks and commands alike.

A web request also has one budget for all its waits on the database together
(DATABASE_REQUEST_BUDGET_MS, see `request_budget`): a deadline per call alone would let a request
that lost its connection to a hung server reconnect (waiting up to the connect timeout) and wait
again, one deadline after another.
"""

import contextlib
import contextvars
import itertools
import os
import socket
import threading
import time

from django.db import OperationalError


class Watchdog:
    """One thread per process that shuts down the socket of each call past its deadline.

    `arm` and `disarm` take the same lock as the shutdown, so once `disarm` has returned the
    watchdog can never touch that socket again (nor a later connection that reuses its fd)."""

    def __init__(self):
        self._lock = threading.Condition()
        self._armed: dict[int, tuple[float, int]] = {}  # token -> (monotonic deadline, socket fd)
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (time.monotonic() + seconds, fd)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="database-deadline", daemon=True)
                self._thread.start()
            self._lock.notify()
            return token

    def disarm(self, token: int) -> bool:
        """Whether the call was still within its deadline (False: its socket was shut down)."""
        with self._lock:
            return self._armed.pop(token, None) is not None

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for token, (deadline, fd) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[token]
                        _shut_down(fd)
                earliest = min((deadline for deadline, _ in self._armed.values()), default=None)
                self._lock.wait(None if earliest is None else earliest - now)


def _shut_down(fd: int) -> None:
    """Shut the socket down for both directions (through a duplicate, so that its owner still
    closes the original): a call blocked reading or writing it returns at once with an error."""
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


watchdog = Watchdog()
os.register_at_fork(after_in_child=watchdog.__init__)  # a forked worker starts its own thread


class Budget:
    """What one request may still wait on the database: a single deadline for all its calls and
    connection attempts, and once the database was found unavailable (a connection attempt failed,
    or a call outlived its deadline), nothing more: every later call fails at once."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.unavailable = False

    def remaining(self, what: str) -> float:
        """Seconds left for `what`; raises OperationalError when none are (or the database is gone)."""
        if self.unavailable:
            raise OperationalError(f"Not trying {what}: the database was found unavailable earlier in this request")
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.unavailable = True
            raise OperationalError(f"Not trying {what}: this request's database budget is spent")
        return left


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("database_budget", default=None)


@contextlib.contextmanager
def request_budget(milliseconds: int):
    """Within the block (one web request), every wait on the database shares one budget of
    `milliseconds` (0: none, each call bounded by its own deadline only)."""
    token = _budget.set(Budget(milliseconds / 1000) if milliseconds else None)
    try:
        yield
    finally:
        _budget.reset(token)


def current_budget() -> Budget | None:
    return _budget.get()
